import { describe, expect, it } from "vitest";
import { adminAccount, api, env, expectError, register } from "../../test/helpers";
import { createContract, market, settledContract } from "../../test/money";

const GB = { ram_gb: 16, vram_gb: 8 };
const HOUR = 3_600_000;
const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();
/**
 * No assertion depends on the wall clock: each query names its window, derived from the stored
 * rows' own timestamps (ledger entries are append-only, so they are read, not moved), or from a
 * pinned instant for contracts. A test that straddles an hour or a day boundary gets the same
 * verdict as one that does not.
 */
const PIN = Date.parse("2026-01-15T12:30:00Z");
async function pinContracts(nodeId: string) {
  await env.DB.prepare("UPDATE contracts SET created_at = ? WHERE node_id = ?").bind(PIN, nodeId).run();
}
/** The series the API must return: every bucket from floor(from) to `to`, each row in its own bucket. */
function expectedSeries(rows: { t: number; micro: number }[], from: number, to: number, size: number) {
  const out = new Map<number, number>();
  for (let b = Math.floor(from / size) * size; b < to; b += size) out.set(b, 0);
  for (const r of rows) {
    const b = Math.floor(r.t / size) * size;
    out.set(b, out.get(b)! + r.micro);
  }
  return [...out].map(([t, micro]) => ({ t: iso(t), usd: micro / 1e6 }));
}

describe("analytics", () => {
  it("node earnings and client spending: series, totals and breakdown, exact", async () => {
    // 24 GB × 91 s × 1,234 nano → 2,696 micro; fee 135; provider 2,561. Twice.
    const s = await market(1, { price_per_gb_sec: 0.000001234, total_ram_gb: 64, total_vram_gb: 24 });
    await settledContract(s, { ...GB, duration_sec: 3600, ranMs: 90_500 });
    await settledContract(s, { ...GB, duration_sec: 3600, ranMs: 90_500 });

    const earned = await env.DB.prepare(
      "SELECT l.created_at AS t, l.amount_micro AS micro FROM ledger_entries l JOIN contracts k ON k.id = l.contract_id WHERE l.kind = 'provider_earning' AND k.node_id = ?",
    )
      .bind(s.node.id)
      .all<{ t: number; micro: number }>();
    expect(earned.results.map((r) => r.micro)).toEqual([2561, 2561]);
    const to = Math.max(...earned.results.map((r) => r.t)) + 1;
    const e = await api("GET", `/api/analytics/node/${s.node.id}/earnings?to=${iso(to)}`, { token: s.provider.token });
    expect(e.status, JSON.stringify(e.body)).toBe(200);
    expect(e.body.total_usd).toBe(0.005122);
    expect(e.body.series).toEqual(expectedSeries(earned.results, to - 30 * DAY, to, DAY)); // 30 days back, aligned to UTC days
    const hourly = await api("GET", `/api/analytics/node/${s.node.id}/earnings?bucket=hour&to=${iso(to)}`, { token: s.provider.token });
    expect(hourly.body.series).toEqual(expectedSeries(earned.results, to - 24 * HOUR, to, HOUR));
    expect(hourly.body.total_usd).toBe(0.005122);
    // A window that ends before the first entry holds nothing.
    const first = Math.min(...earned.results.map((r) => r.t));
    const before = await api("GET", `/api/analytics/node/${s.node.id}/earnings?bucket=hour&to=${iso(first)}`, { token: s.provider.token });
    expect(before.body.total_usd).toBe(0);

    const other = await register("provider");
    expectError(await api("GET", `/api/analytics/node/${s.node.id}/earnings`, { token: other.token }), 403, "forbidden");
    expectError(await api("GET", `/api/analytics/node/${crypto.randomUUID()}/earnings`, { token: other.token }), 404, "not_found");
    expect((await api("GET", `/api/analytics/node/${s.node.id}/earnings`, { token: (await adminAccount()).token })).status).toBe(200);
    expectError(
      await api("GET", `/api/analytics/node/${s.node.id}/earnings?bucket=week`, { token: s.provider.token }),
      400,
      "validation_failed",
    );
    expectError(
      await api("GET", `/api/analytics/node/${s.node.id}/earnings?bucket=hour&from=2020-01-01`, { token: s.provider.token }),
      400,
      "validation_failed",
    );

    const charges = await env.DB.prepare(
      "SELECT created_at AS t, -amount_micro AS micro FROM ledger_entries WHERE kind = 'charge' AND user_id = ?",
    )
      .bind(s.renter.id)
      .all<{ t: number; micro: number }>();
    const spentTo = Math.max(...charges.results.map((r) => r.t)) + 1;
    const sp = await api("GET", `/api/analytics/client/${s.renter.clientId}/spending?to=${iso(spentTo)}`, { token: s.renter.token });
    expect(sp.status, JSON.stringify(sp.body)).toBe(200);
    expect(sp.body.total_usd).toBe(0.005392);
    expect(sp.body.series).toEqual(expectedSeries(charges.results, spentTo - 30 * DAY, spentTo, DAY));
    expect(sp.body.by_node).toEqual([{ node_id: s.node.id, node_name: s.node.name, region: s.node.region, usd: 0.005392, contracts: 2 }]);
    expectError(await api("GET", `/api/analytics/client/${s.renter.clientId}/spending`, { token: other.token }), 404, "not_found");
    // An old window holds nothing.
    const old = await api("GET", `/api/analytics/client/${s.renter.clientId}/spending?from=2020-01-01&to=2020-01-03`, {
      token: s.renter.token,
    });
    expect(old.body).toMatchObject({
      total_usd: 0,
      by_node: [],
      series: [
        { t: "2020-01-01T00:00:00.000Z", usd: 0 },
        { t: "2020-01-02T00:00:00.000Z", usd: 0 },
      ],
    });
  });

  it("market supply and demand by region, and the price trend", async () => {
    const s = await market(5, { price_per_gb_sec: 0.000002, total_ram_gb: 64, total_vram_gb: 24 });
    await createContract(s, { ram_gb: 10, vram_gb: 4, duration_sec: 600 });
    await createContract(s, { ram_gb: 2, vram_gb: 0, duration_sec: 600 });

    const sup = await api("GET", "/api/analytics/market/supply");
    expect(sup.status, JSON.stringify(sup.body)).toBe(200);
    const region = sup.body.regions.find((r: any) => r.region === s.node.region);
    expect(region).toMatchObject({
      nodes: 1,
      offered: { ram_gb: 64, vram_gb: 24 },
      reserved: { ram_gb: 12, vram_gb: 4, contracts: 2 },
      requested: { ram_gb: 12, vram_gb: 4, contracts: 2 },
      utilisation_pct: 18.18, // 16 / 88
    });

    // A second, cheaper node in the same region: the GB-weighted contracted average is exact.
    const p2 = await register("provider");
    const cheap = await api("POST", "/api/nodes/register", {
      token: p2.token,
      body: {
        node_type: "mist_node",
        name: "cheap",
        region: s.node.region,
        total_ram_gb: 8,
        total_vram_gb: 0,
        bandwidth_mbps: 100,
        base_latency_ms: 9,
        price_per_gb_sec: 0.000000001,
      },
    });
    expect(cheap.status).toBe(201);
    await api("POST", "/api/contracts/create", {
      token: s.renter.token,
      body: { node_id: cheap.body.node.id, ram_gb: 2, vram_gb: 0, duration_sec: 600 },
    });
    await pinContracts(s.node.id);
    await pinContracts(cheap.body.node.id);
    const pr = await api("GET", `/api/analytics/market/pricing?region=${s.node.region}&bucket=hour&to=2026-01-15T13:00:00Z`);
    expect(pr.status, JSON.stringify(pr.body)).toBe(200);
    const last = pr.body.series.at(-1);
    // (16 × 2,000 + 2 × 1) nano·GB / 18 GB = 1,777.888… → 1,778 nano
    expect(last).toMatchObject({
      contracts: 3,
      gb: 18,
      avg_price_per_gb_sec: 0.000001778,
      min_price_per_gb_sec: 0.000000001,
      max_price_per_gb_sec: 0.000002,
    });
    expect(pr.body.series[0]).toMatchObject({ contracts: 0, avg_price_per_gb_sec: null });
    // Offered now: (2,000 + 1) / 2 = 1,000.5 → 1,001 nano.
    expect(pr.body.current).toEqual({
      active_nodes: 2,
      avg_price_per_gb_sec: 0.000001001,
      min_price_per_gb_sec: 0.000000001,
      max_price_per_gb_sec: 0.000002,
    });
    expect(pr.body.region).toBe(s.node.region);
    expect(pr.body.series).toHaveLength(24);
    expect(last.t).toBe("2026-01-15T12:00:00.000Z");
    const all = await api("GET", "/api/analytics/market/pricing?to=2026-01-15T18:00:00Z");
    expect(all.status).toBe(200);
    expect(all.body.region).toBeNull();
    expect(all.body.series).toHaveLength(31);
    expect(all.body.series.at(-1)).toMatchObject({ t: "2026-01-15T00:00:00.000Z", contracts: 3, gb: 18 });
    expectError(await api("GET", "/api/analytics/market/pricing?from=nope"), 400, "validation_failed");
    // The day before holds none of them.
    const dayBefore = await api(
      "GET",
      `/api/analytics/market/pricing?region=${s.node.region}&from=2026-01-14T00:00:00Z&to=2026-01-15T00:00:00Z`,
    );
    expect(dayBefore.body.series.every((p: any) => p.contracts === 0)).toBe(true);
  });
});
