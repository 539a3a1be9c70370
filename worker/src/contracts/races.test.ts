// The money findings of issue 10 that come from deciding on a row read before an await. Each
// test drives the real worker (workerd, D1 on the real migrations, the region DO) into the race
// and checks that no hold is left without a contract carrying it.
import { describe, expect, it } from "vitest";
import { api, env, expectError } from "../../test/helpers";
import { clientRow, contractRow, createContract, heartbeat, market, settled, shiftStart } from "../../test/money";
import { portsFor } from "../region/client";
import * as life from "./lifecycle";
import { settleContractMoney } from "../settlement/settle";

const GB = { ram_gb: 4, vram_gb: 0 };
const PRICE = 0.000001; // 4 GB × 1,000 nano = 4 micro-USD per second

/** Σ held on the renter's open contracts must equal the renter's held balance: no orphan holds. */
async function expectHoldsCarried(userId: string) {
  const c = await clientRow(userId);
  const open = await env.DB.prepare(`SELECT COALESCE(SUM(held_micro), 0) AS n FROM contracts WHERE client_user_id = ? AND ended_at IS NULL`)
    .bind(userId)
    .first<{ n: number }>();
  const ended = await env.DB.prepare(
    `SELECT COALESCE(SUM(held_micro), 0) AS n FROM contracts WHERE client_user_id = ? AND ended_at IS NOT NULL AND charged_micro IS NOT NULL`,
  )
    .bind(userId)
    .first<{ n: number }>();
  expect(ended!.n).toBe(0);
  expect(c.held_micro).toBe(open!.n);
}

describe("finding 1: the budget cap governs new holds only", () => {
  it("settles a contract whose egress takes the month past the budget: charged, hold released, provider paid", async () => {
    const s = await market(10, { price_per_gb_sec: PRICE, total_ram_gb: 64, total_vram_gb: 0, egress_price_per_gb: 0.1 });
    // Budget $0.01; the contract holds 4 × 600 × 1,000 nano = 2,400 micro.
    expect((await api("PUT", "/api/auth/me/client", { token: s.renter.token, body: { budget_monthly_usd: 0.01 } })).status).toBe(200);
    const k = await createContract(s, { ...GB, duration_sec: 600 });
    await heartbeat(s);
    await shiftStart(k.id, 100_000);
    // 1 GB of egress at $0.1 = 100,000 micro: ten times the budget.
    const r = await api("POST", `/api/contracts/${k.id}/settle`, { token: s.renter.token, body: { actual_egress_gb: 1 } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const row = await settled(k.id);
    // ~100 s held (4 micro/s; the test's own run time may add a second or two) + 100,000 egress.
    expect(row.total_cost_micro).toBeGreaterThanOrEqual(100_400);
    expect(row).toMatchObject({ charged_micro: row.total_cost_micro, held_micro: 0 });
    expect(await clientRow(s.renter.id)).toMatchObject({ held_micro: 0, balance_micro: 10_000_000 - row.total_cost_micro });
    const earning = await env.DB.prepare(`SELECT amount_micro FROM ledger_entries WHERE contract_id = ? AND kind = 'provider_earning'`)
      .bind(k.id)
      .first<{ amount_micro: number }>();
    expect(earning!.amount_micro).toBeGreaterThan(95_000);
    // The cap still refuses a new hold.
    expectError(
      await api("POST", "/api/contracts/create", { token: s.renter.token, body: { node_id: s.node.id, ...GB, duration_sec: 600 } }),
      402,
      "budget_exceeded",
    );
  });
});

describe("finding 2: a hold never exists without the contract row that carries it", () => {
  it("eight concurrent extends each add their time and their hold, or answer 409; the holds match the term", async () => {
    const s = await market(10, { price_per_gb_sec: PRICE, total_ram_gb: 64, total_vram_gb: 0, max_duration_sec: 86_400 });
    const k = await createContract(s, { ...GB, duration_sec: 600 });
    await heartbeat(s);
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        api("POST", `/api/contracts/${k.id}/extend`, { token: s.renter.token, body: { additional_sec: 60 } }),
      ),
    );
    for (const r of results) expect([200, 409], JSON.stringify(r.body)).toContain(r.status);
    const ok = results.filter((r) => r.status === 200).length;
    expect(ok).toBeGreaterThan(0);
    const row = await contractRow(k.id);
    expect(row.term_sec).toBe(600 + 60 * ok);
    expect(row.held_micro).toBe(4 * (600 + 60 * ok));
    await expectHoldsCarried(s.renter.id);
  });

  it("extends racing a settle leave no hold behind once settled", async () => {
    const s = await market(10, { price_per_gb_sec: PRICE, total_ram_gb: 64, total_vram_gb: 0 });
    const k = await createContract(s, { ...GB, duration_sec: 600 });
    await heartbeat(s);
    const stale = await life.loadContract(env, k.id);
    const ports = portsFor(env);
    // The extends read the row before the settle lands, then write after it.
    await life.settleContract(ports, stale, undefined);
    const ext = await Promise.allSettled([life.extendContract(ports, stale, 60), life.extendContract(ports, stale, 120)]);
    for (const e of ext) expect(e.status).toBe("rejected");
    await settled(k.id);
    expect((await clientRow(s.renter.id)).held_micro).toBe(0);
    await expectHoldsCarried(s.renter.id);
  });

  it("a renewal decided on a row read before the settle holds nothing", async () => {
    const s = await market(10, { price_per_gb_sec: PRICE, total_ram_gb: 64, total_vram_gb: 0 });
    const k = await createContract(s, { ...GB, duration_sec: 600, auto_renew: true });
    await heartbeat(s);
    const stale = await life.loadContract(env, k.id);
    const ports = portsFor(env);
    await life.settleContract(ports, stale, undefined);
    await settled(k.id);
    await life.renewOrGrace(ports, stale, Date.now());
    expect((await clientRow(s.renter.id)).held_micro).toBe(0);
    expect((await contractRow(k.id)).renewals).toBe(0);
    await expectHoldsCarried(s.renter.id);
  });
});

describe("settling twice at once (a cancel settles at once while the queue delivers)", () => {
  it("two concurrent settlements of one contract move its money once and neither fails", async () => {
    const s = await market(10, { price_per_gb_sec: PRICE, total_ram_gb: 64, total_vram_gb: 0 });
    const k = await createContract(s, { ...GB, duration_sec: 600 });
    await heartbeat(s);
    await shiftStart(k.id, 30_000);
    // Ended in D1 without the queue message, so only the two calls below settle it.
    await env.DB.prepare(`UPDATE contracts SET status = 'completed', ended_at = start_time + 60000, total_cost_micro = 240 WHERE id = ?`)
      .bind(k.id)
      .run();
    const outcomes = await Promise.all([settleContractMoney(env, k.id), settleContractMoney(env, k.id), settleContractMoney(env, k.id)]);
    expect(outcomes.filter((o) => o === "settled")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "already_settled")).toHaveLength(2);
    expect(await contractRow(k.id)).toMatchObject({ charged_micro: 240, held_micro: 0 });
    expect(await clientRow(s.renter.id)).toMatchObject({ held_micro: 0, balance_micro: 10_000_000 - 240 });
  });
});

describe("finding 5: decisions on the current row", () => {
  it("an extend that lands while the expiry sweep holds the old row keeps the contract running", async () => {
    const s = await market(10, { price_per_gb_sec: PRICE, total_ram_gb: 64, total_vram_gb: 0 });
    const k = await createContract(s, { ...GB, duration_sec: 600 });
    await heartbeat(s);
    await shiftStart(k.id, 605_000); // the term ended five seconds ago
    const stale = await life.loadContract(env, k.id); // what the sweep read
    const ext = await api("POST", `/api/contracts/${k.id}/extend`, { token: s.renter.token, body: { additional_sec: 3600 } });
    expect(ext.status, JSON.stringify(ext.body)).toBe(200);
    await life.expireIfDue(portsFor(env), stale, Date.now());
    const row = await contractRow(k.id);
    expect(row).toMatchObject({ status: "active", ended_at: null, term_sec: 4200 });
    await expectHoldsCarried(s.renter.id);
  });

  it("a cancel decided while pending does not cancel a contract that became active meanwhile", async () => {
    const s = await market(10, { price_per_gb_sec: PRICE, total_ram_gb: 64, total_vram_gb: 0 });
    const k = await createContract(s, { ...GB, duration_sec: 600 });
    const stale = await life.loadContract(env, k.id);
    expect(stale.status).toBe("pending");
    await heartbeat(s); // activation lands first
    await expect(life.cancelContract(portsFor(env), stale)).rejects.toMatchObject({ code: "conflict" });
    const row = await contractRow(k.id);
    expect(row).toMatchObject({ status: "active", ended_at: null, held_micro: 2_400 });
  });
});
