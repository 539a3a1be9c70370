/**
 * Series for dashboards, computed in SQL. Buckets are `(created_at / size) * size` on integer epoch
 * milliseconds (UTC hours and days are whole multiples since the epoch), sums are integer micro-USD
 * and prices integer nano-USD; conversion to USD happens once, at the edge. D1 binds every JS number
 * as REAL, so a bound bucket size is CAST to INTEGER to keep the division an integer division.
 */
import type { Env } from "../env";
import { microToUsd, nanoToPrice } from "../domain/money";
import { invalid } from "../lib/errors";
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
  const res = await env.DB.prepare(
    `SELECT (l.created_at / CAST(?1 AS INTEGER)) * CAST(?1 AS INTEGER) AS t, SUM(l.amount_micro) AS micro
     FROM ledger_entries l JOIN contracts k ON k.id = l.contract_id
     WHERE l.kind = 'provider_earning' AND k.node_id = ?2 AND l.created_at >= ?3 AND l.created_at < ?4
     GROUP BY t ORDER BY t`,
  )
    .bind(size, nodeId, from, to)
    .all<{ t: number; micro: number }>();
  const total = res.results.reduce((s, r) => s + r.micro, 0);
  return { node_id: nodeId, bucket, from: iso(from)!, to: iso(to)!, series: filled(starts, res.results), total_usd: microToUsd(total) };
}

export async function clientSpending(env: Env, client: { id: string; user_id: string }, from: number, to: number, bucket: Bucket) {
  const starts = bucketStarts(from, to, bucket);
  const size = BUCKET_MS[bucket];
  // Spend is what was charged (settlements and later collections); holds are not spend until charged.
  const [series, byNode] = await env.DB.batch([
    env.DB.prepare(
      `SELECT (created_at / CAST(?1 AS INTEGER)) * CAST(?1 AS INTEGER) AS t, -SUM(amount_micro) AS micro FROM ledger_entries
       WHERE kind = 'charge' AND user_id = ?2 AND created_at >= ?3 AND created_at < ?4 GROUP BY t ORDER BY t`,
    ).bind(size, client.user_id, from, to),
    env.DB.prepare(
      `SELECT k.node_id, n.name AS node_name, n.region, -SUM(l.amount_micro) AS micro, COUNT(DISTINCT k.id) AS contracts
       FROM ledger_entries l JOIN contracts k ON k.id = l.contract_id LEFT JOIN nodes n ON n.id = k.node_id
       WHERE l.kind = 'charge' AND l.user_id = ?1 AND l.created_at >= ?2 AND l.created_at < ?3
       GROUP BY k.node_id ORDER BY micro DESC, k.node_id`,
    ).bind(client.user_id, from, to),
  ]);
  const rows = series.results as { t: number; micro: number }[];
  return {
    client_id: client.id,
    bucket,
    from: iso(from)!,
    to: iso(to)!,
    series: filled(starts, rows),
    total_usd: microToUsd(rows.reduce((s, r) => s + r.micro, 0)),
    by_node: (
      byNode.results as { node_id: string; node_name: string | null; region: string | null; micro: number; contracts: number }[]
    ).map((r) => ({
      node_id: r.node_id,
      node_name: r.node_name,
      region: r.region,
      usd: microToUsd(r.micro),
      contracts: r.contracts,
    })),
  };
}

export async function marketSupply(env: Env, from: number, to: number) {
  const [offered, reserved, requested] = await env.DB.batch([
    env.DB.prepare(
      `SELECT region, COUNT(*) AS nodes, SUM(total_ram_gb) AS ram, SUM(total_vram_gb) AS vram,
              SUM(CASE WHEN status = 'active' THEN MIN(reported_ram_gb, total_ram_gb) ELSE 0 END) AS free_ram,
              SUM(CASE WHEN status = 'active' THEN MIN(reported_vram_gb, total_vram_gb) ELSE 0 END) AS free_vram
       FROM nodes WHERE status != 'offline' GROUP BY region`,
    ),
    env.DB.prepare(
      `SELECT region, COUNT(*) AS contracts, SUM(ram_gb) AS ram, SUM(vram_gb) AS vram FROM contracts WHERE status IN ('pending','active') GROUP BY region`,
    ),
    env.DB.prepare(
      `SELECT region, COUNT(*) AS contracts, SUM(ram_gb) AS ram, SUM(vram_gb) AS vram FROM contracts WHERE created_at >= ?1 AND created_at < ?2 GROUP BY region`,
    ).bind(from, to),
  ]);
  type Agg = { region: string; nodes?: number; contracts?: number; ram: number; vram: number; free_ram?: number; free_vram?: number };
  const index = (r: D1Result) => new Map((r.results as Agg[]).map((a) => [a.region, a]));
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
  const regionCond = region ? "AND region = ?4" : "";
  const nodeRegionCond = region ? "AND region = ?1" : "";
  const [series, current] = await env.DB.batch([
    // GB-weighted average contracted price, rounded half-up to the nano-USD, all in integers.
    env.DB.prepare(
      `SELECT (created_at / CAST(?1 AS INTEGER)) * CAST(?1 AS INTEGER) AS t, COUNT(*) AS contracts, SUM(ram_gb + vram_gb) AS gb,
              (2 * SUM(price_nano * (ram_gb + vram_gb)) + SUM(ram_gb + vram_gb)) / (2 * SUM(ram_gb + vram_gb)) AS avg_nano,
              MIN(price_nano) AS min_nano, MAX(price_nano) AS max_nano
       FROM contracts WHERE created_at >= ?2 AND created_at < ?3 ${regionCond} AND ram_gb + vram_gb > 0 GROUP BY t ORDER BY t`,
    ).bind(...(region ? [size, from, to, region] : [size, from, to])),
    env.DB.prepare(
      `SELECT COUNT(*) AS nodes, CASE WHEN COUNT(*) > 0 THEN (2 * SUM(price_nano) + COUNT(*)) / (2 * COUNT(*)) END AS avg_nano, MIN(price_nano) AS min_nano, MAX(price_nano) AS max_nano
       FROM nodes WHERE status = 'active' ${nodeRegionCond}`,
    ).bind(...(region ? [region] : [])),
  ]);
  const by = new Map(
    (series.results as { t: number; contracts: number; gb: number; avg_nano: number; min_nano: number; max_nano: number }[]).map((r) => [
      r.t,
      r,
    ]),
  );
  const cur = current.results[0] as { nodes: number; avg_nano: number | null; min_nano: number | null; max_nano: number | null };
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
