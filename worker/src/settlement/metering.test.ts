// Running contracts on the region's clock: metering, auto-renewal, the balance grace period and the
// monthly budget cap. Each test moves a contract's times back in D1 and runs the region Durable
// Object's alarm, as the clock would. Prices as in settlement.test.ts: 24 GB at 1,234 nano-USD per
// GB-second = 29,616 nano-USD per second.
import { describe, expect, it } from "vitest";
import { SELF, runDurableObjectAlarm } from "cloudflare:test";
import { api, env, expectError } from "../../test/helpers";
import { balanceOf, clientRow, contractRow, createContract, heartbeat, ledgerOf, market, settled, shiftStart } from "../../test/money";

const PRICE = 0.000001234;
const GB = { ram_gb: 16, vram_gb: 8 };
const tick = (region: string) => runDurableObjectAlarm(env.REGION_CLUSTER.get(env.REGION_CLUSTER.idFromName(region)));

async function running(creditUsd: number, durationSec: number, autoRenew = false) {
  const s = await market(creditUsd, { price_per_gb_sec: PRICE, total_ram_gb: 64, total_vram_gb: 24 });
  const k = await createContract(s, { ...GB, duration_sec: durationSec, auto_renew: autoRenew });
  await heartbeat(s);
  return { s, k };
}

describe("metering", () => {
  it("accrues the cost of running contracts on each tick: 150.5 s → 151 s → 4,472,016 nano → 4,473 micro", async () => {
    const { s, k } = await running(1, 3600);
    expect((await contractRow(k.id)).accrued_cost_micro).toBe(0);
    await shiftStart(k.id, 150_500);
    expect(await tick(s.node.region)).toBe(true);
    expect((await contractRow(k.id)).accrued_cost_micro).toBe(4_473);
    await shiftStart(k.id, 599_500);
    await tick(s.node.region);
    const row = await contractRow(k.id);
    expect(row.accrued_cost_micro).toBe(17_770); // 600 s × 29,616 = 17,769,600 nano → 17,770 micro
    expect(row.status).toBe("active");
    const view = (await api("GET", `/api/contracts/${k.id}`, { token: s.renter.token })).body.contract;
    expect(view.accrued_cost_usd).toBe(0.01777);
    // The burn rate is what the running contract costs per hour: 29,616 nano/s × 3600 = 106,617.6 → 106,618 micro.
    expect((await balanceOf(s.renter)).burn_rate_usd_per_hour).toBe(0.106618);
  });

  it("meters at least the minimum duration from the first tick", async () => {
    const { s, k } = await running(1, 3600);
    await shiftStart(k.id, 5_000);
    await tick(s.node.region);
    expect((await contractRow(k.id)).accrued_cost_micro).toBe(1_777); // 60 s minimum
  });
});

describe("auto-renewal", () => {
  it("renews at the end of the term, holding the next term's cost", async () => {
    const { s, k } = await running(1, 120, true); // a term: 120 × 29,616 = 3,553,920 nano → 3,554 micro
    const { end } = await shiftStart(k.id, 125_000);
    await tick(s.node.region);
    const row = await contractRow(k.id);
    expect(row).toMatchObject({
      status: "active",
      renewals: 1,
      grace_until: null,
      held_micro: 7_108,
      total_cost_micro: 7_108,
      term_sec: 240,
    });
    expect(row.end_time).toBe(end + 120_000);
    const holds = (await ledgerOf({ contractId: k.id })).filter((e) => e.kind === "hold");
    expect(holds.map((e) => [e.amount_micro, e.idempotency_key])).toEqual([
      [-3_554, `hold:${k.id}:0`],
      [-3_554, `hold:${k.id}:renewal1`],
    ]);
    expect((await balanceOf(s.renter)).held_usd).toBe(0.007108);
    // Another tick before the new end changes nothing.
    await tick(s.node.region);
    expect((await contractRow(k.id)).renewals).toBe(1);
  });
});

describe("the balance grace period", () => {
  it("warns and runs on for BALANCE_GRACE_SEC when the next term cannot be held, then ends, settled for the time held", async () => {
    // $0.005: the first term's 3,554 micro is held; 1,446 free cannot hold the next one.
    const { s, k } = await running(0.005, 120, true);
    // The renter listens on the contract's region for the warning.
    const res = await SELF.fetch(`https://mnemo.test/ws/${s.renter.clientId}?token=${s.renter.token}&region=${s.node.region}`, {
      headers: { upgrade: "websocket" },
    });
    expect(res.status).toBe(101);
    const ws = res.webSocket!;
    const messages: any[] = [];
    ws.addEventListener("message", (m) => messages.push(JSON.parse(m.data as string)));
    ws.accept();
    await shiftStart(k.id, 125_000);
    await tick(s.node.region);
    const graced = await contractRow(k.id);
    for (let i = 0; i < 50 && !messages.some((m) => m.data?.warning); i++) await new Promise((r) => setTimeout(r, 20));
    const warning = messages.find((m) => m.type === "contract_update" && m.data?.warning);
    expect(warning?.data).toMatchObject({
      id: k.id,
      warning: "insufficient_funds",
      grace_until: new Date(graced.grace_until).toISOString(),
    });
    expect(warning.data.message).toMatch(/top up/);
    ws.close();
    expect(graced).toMatchObject({ status: "active", renewals: 0, ended_at: null, held_micro: 3_554 });
    expect(graced.grace_until).toBe(graced.end_time + 300_000); // BALANCE_GRACE_SEC defaults to 300
    const view = (await api("GET", `/api/contracts/${k.id}`, { token: s.renter.token })).body.contract;
    expect(view.grace_until).toBe(new Date(graced.grace_until).toISOString());
    // A tick inside the grace period leaves it running.
    await tick(s.node.region);
    expect((await contractRow(k.id)).ended_at).toBeNull();

    // Time passes beyond the grace period.
    const back = graced.grace_until - Date.now() + 1_000;
    await env.DB.prepare(
      `UPDATE contracts SET start_time = start_time - ?1, end_time = end_time - ?1, grace_until = grace_until - ?1 WHERE id = ?2`,
    )
      .bind(back, k.id)
      .run();
    await tick(s.node.region);
    const row = await settled(k.id);
    expect(row.status).toBe("completed");
    expect(row.end_reason).toMatch(/grace/);
    expect(row.ended_at).toBe(row.grace_until);
    // Held 120 s + 300 s of grace = 420 s × 29,616 = 12,438,720 nano → 12,439 micro; the balance had 5,000.
    expect(row.total_cost_micro).toBe(12_439);
    expect(row.charged_micro).toBe(5_000);
    const c = await clientRow(s.renter.id);
    expect(c).toMatchObject({ balance_micro: 0, held_micro: 0 });
    const entries = await ledgerOf({ contractId: k.id });
    expect(entries.filter((e) => e.kind === "charge").map((e) => e.amount_micro)).toEqual([-5_000]);
    expect(entries.filter((e) => e.kind === "platform_fee").map((e) => e.amount_micro)).toEqual([250]);
    expect(entries.filter((e) => e.kind === "provider_earning").map((e) => e.amount_micro)).toEqual([4_750]);
    const contract = (await api("GET", `/api/contracts/${k.id}`, { token: s.renter.token })).body.contract;
    expect(contract.outstanding_usd).toBe(0.007439);
  });

  it("renews normally when the renter tops up during the grace period", async () => {
    const { s, k } = await running(0.005, 120, true);
    await shiftStart(k.id, 125_000);
    await tick(s.node.region);
    expect((await contractRow(k.id)).grace_until).not.toBeNull();
    const top = await api("POST", "/api/payments/create", {
      token: s.renter.token,
      body: { amount_usd: 1, payment_method: "stripe", stripe_token: "pm_card_visa" },
    });
    expect(top.status, JSON.stringify(top.body)).toBe(201);
    await tick(s.node.region);
    const row = await contractRow(k.id);
    expect(row).toMatchObject({ renewals: 1, grace_until: null, ended_at: null, held_micro: 7_108 });
  });
});

describe("the monthly budget cap", () => {
  it("refuses a hold past budget_monthly_usd with 402 budget_exceeded", async () => {
    const s = await market(10, { price_per_gb_sec: PRICE, total_ram_gb: 64, total_vram_gb: 24 });
    const put = await api("PUT", "/api/auth/me/client", { token: s.renter.token, body: { budget_monthly_usd: 0.15 } });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    // 3600 s: 106,618 micro fits the 150,000 budget; a second one would take the month to 213,236.
    await createContract(s, { ...GB, duration_sec: 3600 });
    const over = await api("POST", "/api/contracts/create", {
      token: s.renter.token,
      body: { node_id: s.node.id, ...GB, duration_sec: 3600 },
    });
    expectError(over, 402, "budget_exceeded");
    const c = await clientRow(s.renter.id);
    expect(c.held_micro).toBe(106_618);
    // The balance could pay; the budget is what refuses.
    expect((await balanceOf(s.renter)).available_usd).toBeGreaterThan(9);
  });

  it("ends an auto-renewing contract after the grace period when the renewal would break the budget", async () => {
    const s = await market(10, { price_per_gb_sec: PRICE, total_ram_gb: 64, total_vram_gb: 24 });
    await api("PUT", "/api/auth/me/client", { token: s.renter.token, body: { budget_monthly_usd: 0.005 } });
    const k = await createContract(s, { ...GB, duration_sec: 120, auto_renew: true });
    await heartbeat(s);
    await shiftStart(k.id, 125_000);
    await tick(s.node.region);
    const row = await contractRow(k.id);
    expect(row.renewals).toBe(0);
    expect(row.grace_until).not.toBeNull();
  });
});
