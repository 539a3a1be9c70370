/**
 * Series for dashboards, computed in SQL (the queries: db/analytics.ts). Buckets are
 * `(created_at / size) * size` on integer epoch milliseconds (UTC hours and days are whole multiples
 * since the epoch), sums are integer micro-USD and prices integer nano-USD; conversion to USD happens
 * once, at the edge. D1 binds every JS number as REAL, so a bound bucket size is CAST to INTEGER to
 * keep the division an integer division.
 */
import type { Env } from "../env";
import { microToUsd, nanoToPrice } from "../domain/money";
import { invalid } from "../lib/errors";
import { earningsSeriesOfNode, pricing, type RegionAggregate, spendingOfUser, supplyByRegion } from "../db/analytics";
import { iso } from "../lib/time";

export const BUCKET_MS = { hour: 3_600_000, day: 86_400_000 } as const;
export type Bucket = keyof typeof BUCKET_MS;
export const MAX_BUCKETS = 1000;

/** Bucket starts covering [from, to), so empty buckets show as zero rather than vanish. */
export function bucketStarts(from: number, to: number, bucket: Bucket): number[] {
  const size = BUCKET_MS[bucket];
  const first = Math.floor(from / size) * size;
  const n = Math.ceil((to - first) / size);
  if (n > MAX_BUCKETS)
    throw invalid("from", `the window holds ${n} ${bucket} buckets; at most ${MAX_BUCKETS} (narrow it or use bucket=day)`);
  return Array.from({ length: n }, (_, i) => first + i * size);
}

function filled(starts: number[], rows: { t: number; micro: number }[]) {
  const by = new Map(rows.map((r) => [r.t, r.micro]));
  return starts.map((t) => ({ t: iso(t)!, usd: microToUsd(by.get(t) ?? 0) }));
}

export async function nodeEarnings(env: Env, nodeId: string, from: number, to: number, bucket: Bucket) {
  const starts = bucketStarts(from, to, bucket);
  const size = BUCKET_MS[bucket];
  const rows = await earningsSeriesOfNode(env.DB, nodeId, from, to, size);
  const total = rows.reduce((s, r) => s + r.micro, 0);
  return { node_id: nodeId, bucket, from: iso(from)!, to: iso(to)!, series: filled(starts, rows), total_usd: microToUsd(total) };
}

export async function clientSpending(env: Env, client: { id: string; user_id: string }, from: number, to: number, bucket: Bucket) {
  const starts = bucketStarts(from, to, bucket);
  const size = BUCKET_MS[bucket];
  // Spend is what was charged (settlements and later collections); holds are not spend until charged.
  const { series: rows, byNode } = await spendingOfUser(env.DB, client.user_id, from, to, size);
  return {
    client_id: client.id,
    bucket,
    from: iso(from)!,
    to: iso(to)!,
    series: filled(starts, rows),
    total_usd: microToUsd(rows.reduce((s, r) => s + r.micro, 0)),
    by_node: byNode.map((r) => ({
      node_id: r.node_id,
      node_name: r.node_name,
      region: r.region,
      usd: microToUsd(r.micro),
      contracts: r.contracts,
    })),
  };
}

export async function marketSupply(env: Env, from: number, to: number) {
  const { offered, reserved, requested } = await supplyByRegion(env.DB, from, to);
  const index = (rows: RegionAggregate[]) => new Map(rows.map((a) => [a.region, a]));
  const o = index(offered),
    h = index(reserved),
    q = index(requested);
  const regions = [...new Set([...o.keys(), ...h.keys(), ...q.keys()])].sort();
  const pct = (part: number, whole: number) => (whole > 0 ? Math.round((part / whole) * 10_000) / 100 : 0);
  return {
    from: iso(from)!,
    to: iso(to)!,
    regions: regions.map((region) => {
      const off = o.get(region),
        res = h.get(region),
        req = q.get(region);
      const offeredRam = off?.ram ?? 0,
        offeredVram = off?.vram ?? 0,
        heldRam = res?.ram ?? 0,
        heldVram = res?.vram ?? 0;
      return {
        region,
        nodes: off?.nodes ?? 0,
        offered: {
          ram_gb: offeredRam,
          vram_gb: offeredVram,
          reported_free_ram_gb: off?.free_ram ?? 0,
          reported_free_vram_gb: off?.free_vram ?? 0,
        },
        reserved: { ram_gb: heldRam, vram_gb: heldVram, contracts: res?.contracts ?? 0 },
        requested: { ram_gb: req?.ram ?? 0, vram_gb: req?.vram ?? 0, contracts: req?.contracts ?? 0 },
        utilisation_pct: pct(heldRam + heldVram, offeredRam + offeredVram),
      };
    }),
  };
}

export async function marketPricing(env: Env, region: string | undefined, from: number, to: number, bucket: Bucket) {
  const starts = bucketStarts(from, to, bucket);
  const size = BUCKET_MS[bucket];
  const { series, current } = await pricing(env.DB, region, from, to, size);
  const by = new Map(series.map((r) => [r.t, r]));
  const cur = current;
  const price = (n: number | null | undefined) => (n === null || n === undefined ? null : nanoToPrice(n));
  return {
    region: region ?? null,
    bucket,
    from: iso(from)!,
    to: iso(to)!,
    series: starts.map((t) => {
      const r = by.get(t);
      return {
        t: iso(t)!,
        avg_price_per_gb_sec: price(r?.avg_nano),
        min_price_per_gb_sec: price(r?.min_nano),
        max_price_per_gb_sec: price(r?.max_nano),
        contracts: r?.contracts ?? 0,
        gb: r?.gb ?? 0,
      };
    }),
    current: {
      active_nodes: cur.nodes,
      avg_price_per_gb_sec: price(cur.avg_nano),
      min_price_per_gb_sec: price(cur.min_nano),
      max_price_per_gb_sec: price(cur.max_nano),
    },
  };
}
