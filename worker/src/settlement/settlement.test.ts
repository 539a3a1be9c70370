// Settlement figures against hand-computed values. The node charges 0.000001234 USD/GB-s
// (1,234 nano-USD) and the contracts hold 16 GB RAM + 8 GB VRAM = 24 GB, so one second costs
// 24 × 1,234 = 29,616 nano-USD; costs round UP to the micro-USD, the 5.0 % fee rounds half-up.
import { describe, expect, it } from "vitest";
import { createExecutionContext, createMessageBatch, getQueueResult, runDurableObjectAlarm } from "cloudflare:test";
import worker from "../index";
import { api, env, expectError } from "../../test/helpers";
import {
  balanceOf,
  clientRow,
  contractRow,
  createContract,
  heartbeat,
  ledgerOf,
  market,
  settled,
  shiftStart,
  type Setup,
} from "../../test/money";

const PRICE = 0.000001234;
const GB = { ram_gb: 16, vram_gb: 8 };

async function running(creditUsd: number, durationSec: number, nodeExtra: Record<string, number> = {}) {
  const s = await market(creditUsd, { price_per_gb_sec: PRICE, total_ram_gb: 64, total_vram_gb: 24, ...nodeExtra });
  const k = await createContract(s, { ...GB, duration_sec: durationSec });
  await heartbeat(s);
  return { s, k };
}

/** Every money movement of a settled contract, by kind, from the ledger. */
async function movements(contractId: string) {
  const entries = await ledgerOf({ contractId });
  const by = (kind: string) => entries.filter((e) => e.kind === kind).map((e) => e.amount_micro);
  return {
    hold: by("hold"),
    charge: by("charge"),
    earning: by("provider_earning"),
    fee: by("platform_fee"),
    release: by("release"),
    entries,
  };
}

const settle = (s: Setup, id: string, body?: unknown) =>
  api("POST", `/api/contracts/${id}/settle`, { token: s.renter.token, ...(body ? { body } : {}) });

describe("settlement figures", () => {
  it("holds the estimate: 24 GB × 3600 s × 1,234 nano = 106,617,600 nano → 106,618 micro", async () => {
    const { s, k } = await running(1, 3600);
    expect(k.total_cost_usd).toBe(0.106618);
    expect(await balanceOf(s.renter)).toMatchObject({ balance_usd: 1, held_usd: 0.106618, available_usd: 0.893382 });
    expect((await movements(k.id)).hold).toEqual([-106_618]);
  });

  it("bills per started second when settled early: 90.5 s → 91 s → 2,695,056 nano → 2,696 micro; fee 134.8 → 135", async () => {
    const { s, k } = await running(1, 3600);
    await shiftStart(k.id, 90_500);
    const r = await settle(s, k.id);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.contract).toMatchObject({ status: "completed", total_cost_usd: 0.002696 });
    const row = await settled(k.id);
    expect(row.charged_micro).toBe(2_696);
    const m = await movements(k.id);
    expect(m.charge).toEqual([-2_696]);
    expect(m.fee).toEqual([135]);
    expect(m.earning).toEqual([2_561]);
    expect(m.release).toEqual([106_618 - 2_696]);
    expect(row.settlement_hash).toBe(m.entries.find((e) => e.kind === "charge")!.hash);
    const c = await clientRow(s.renter.id);
    expect(c).toMatchObject({ balance_micro: 1_000_000 - 2_696, held_micro: 0 });
  });

  it("bills at least the offer's minimum duration: 10.2 s → 60 s → 1,776,960 nano → 1,777 micro; fee 88.85 → 89", async () => {
    const { s, k } = await running(1, 3600);
    await shiftStart(k.id, 10_200);
    await settle(s, k.id);
    await settled(k.id);
    const m = await movements(k.id);
    expect([m.charge, m.fee, m.earning]).toEqual([[-1_777], [89], [1_688]]);
  });

  it("honours a longer offer minimum (300 s): 24 × 300 × 1,234 = 8,884,800 nano → 8,885 micro", async () => {
    const { s, k } = await running(1, 3600, { min_duration_sec: 300 });
    await shiftStart(k.id, 61_000);
    await settle(s, k.id);
    await settled(k.id);
    const m = await movements(k.id);
    expect([m.charge, m.fee, m.earning]).toEqual([[-8_885], [444], [8_441]]); // fee 444.25 → 444
  });

  it("adds egress at the offer's price: 1.234567 GB × $0.05 = 61,728.35 → 61,729 micro, on top of 91 s", async () => {
    const { s, k } = await running(1, 3600, { egress_price_per_gb: 0.05 });
    await shiftStart(k.id, 90_500);
    const r = await settle(s, k.id, { actual_egress_gb: 1.234567 });
    expect(r.body.contract.total_cost_usd).toBe(0.064425);
    await settled(k.id);
    const m = await movements(k.id);
    // 2,696 + 61,729 = 64,425; fee 3,221.25 → 3,221; provider 61,204.
    expect([m.charge, m.fee, m.earning]).toEqual([[-64_425], [3_221], [61_204]]);
    expect(m.fee[0] + m.earning[0]).toBe(-m.charge[0]);
  });

  it("bills the whole term after expiry (the region alarm ends it): 120 s → 3,553,920 nano → 3,554 micro", async () => {
    const { s, k } = await running(1, 120);
    await shiftStart(k.id, 300_000); // the term ended three minutes ago
    expect(await runDurableObjectAlarm(env.REGION_CLUSTER.get(env.REGION_CLUSTER.idFromName(s.node.region)))).toBe(true);
    const row = await settled(k.id);
    expect(row).toMatchObject({ status: "completed", end_reason: "term ended", total_cost_micro: 3_554, charged_micro: 3_554 });
    expect(row.ended_at).toBe(row.end_time);
    const m = await movements(k.id);
    expect([m.charge, m.fee, m.earning, m.release]).toEqual([[-3_554], [178], [3_376], []]); // fee 177.7 → 178; the hold was exactly the cost
  });
});

describe("settlement happens once", () => {
  it("a settlement message delivered three times charges once", async () => {
    const { s, k } = await running(1, 3600);
    await shiftStart(k.id, 90_500);
    await settle(s, k.id); // ends the contract and queues the real message
    // Three more deliveries of the same message, in one batch and racing the real queue.
    const ctx = createExecutionContext();
    const batch = createMessageBatch(
      "mnemo-settlement",
      [1, 2, 3].map((i) => ({ id: `redelivery-${k.id}-${i}`, timestamp: new Date(), attempts: i, body: { contract_id: k.id } })),
    );
    await worker.queue(batch as any, env);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks.sort()).toEqual([1, 2, 3].map((i) => `redelivery-${k.id}-${i}`).sort());
    expect(result.retryMessages).toEqual([]);
    await settled(k.id);
    // And once more after settlement.
    const later = createMessageBatch("mnemo-settlement", [
      { id: `later-${k.id}`, timestamp: new Date(), attempts: 4, body: { contract_id: k.id } },
    ]);
    await worker.queue(later as any, env);
    const m = await movements(k.id);
    expect([m.charge, m.fee, m.earning, m.release]).toEqual([[-2_696], [135], [2_561], [106_618 - 2_696]]);
    expect((await clientRow(s.renter.id)).balance_micro).toBe(1_000_000 - 2_696);
  });

  it("acknowledges a malformed message instead of retrying it forever", async () => {
    const ctx = createExecutionContext();
    const batch = createMessageBatch("mnemo-settlement", [
      { id: "bad-1", timestamp: new Date(), attempts: 1, body: { contract_id: "not-a-uuid" } },
    ]);
    await worker.queue(batch as any, env);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["bad-1"]);
  });

  it("settling twice over HTTP is harmless and answers the same contract", async () => {
    const { s, k } = await running(1, 3600);
    await shiftStart(k.id, 45_000);
    const [a, b] = await Promise.all([settle(s, k.id), settle(s, k.id)]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    await settled(k.id);
    const c = await settle(s, k.id);
    expect(c.status).toBe(200);
    expect(c.body.contract).toMatchObject({ id: k.id, status: "completed", total_cost_usd: a.body.contract.total_cost_usd });
    expect(c.body.contract.settlement_hash).toMatch(/^[0-9a-f]{64}$/);
    expect((await movements(k.id)).charge).toHaveLength(1);
  });
});

describe("a balance never goes negative", () => {
  it("charges what the balance holds, leaves the rest outstanding, and collects it after a card payment", async () => {
    // $0.2 credit; estimate 106,618 micro; egress 2 GB × $0.5 = 1,000,000 micro makes the cost exceed the balance.
    const { s, k } = await running(0.2, 3600, { egress_price_per_gb: 0.5 });
    await shiftStart(k.id, 90_500);
    await settle(s, k.id, { actual_egress_gb: 2 });
    const row = await settled(k.id);
    const cost = 2_696 + 1_000_000;
    expect(row.total_cost_micro).toBe(cost);
    expect(row.charged_micro).toBe(200_000);
    const c = await clientRow(s.renter.id);
    expect(c).toMatchObject({ balance_micro: 0, held_micro: 0 });
    const view = (await api("GET", `/api/contracts/${k.id}`, { token: s.renter.token })).body.contract;
    expect(view.outstanding_usd).toBe((cost - 200_000) / 1e6);
    const m = await movements(k.id);
    expect([m.charge, m.fee, m.earning]).toEqual([[-200_000], [10_000], [190_000]]);

    // A contract that cannot be covered is refused up front, never overdrawn.
    const more = await api("POST", "/api/contracts/create", {
      token: s.renter.token,
      body: { node_id: s.node.id, ...GB, duration_sec: 3600 },
    });
    expectError(more, 402, "insufficient_funds");

    // Pay the outstanding cost by card: 802,696 micro → 81 cents (rounded up); the 7,304 micro over stay on the balance.
    const pay = await api("POST", "/api/payments/create", {
      token: s.renter.token,
      body: { contract_id: k.id, payment_method: "stripe", stripe_token: "pm_card_visa" },
    });
    expect(pay.status, JSON.stringify(pay.body)).toBe(201);
    expect(pay.body.transaction).toMatchObject({ amount_usd: 0.81, contract_id: k.id, status: "completed" });
    expect(pay.body.collected_usd).toBe(0.802696);
    const after = await contractRow(k.id);
    expect(after.charged_micro).toBe(cost);
    expect((await clientRow(s.renter.id)).balance_micro).toBe(810_000 - 802_696);
    // Over both collections the split is exactly splitFee(total): fee 50,134.8 → 50,135.
    const m2 = await movements(k.id);
    expect(m2.charge.reduce((a, b) => a + b, 0)).toBe(-cost);
    expect(m2.fee.reduce((a, b) => a + b, 0)).toBe(50_135);
    expect(m2.earning.reduce((a, b) => a + b, 0)).toBe(cost - 50_135);
    // Paying again finds nothing outstanding.
    expectError(
      await api("POST", "/api/payments/create", {
        token: s.renter.token,
        body: { contract_id: k.id, payment_method: "stripe", stripe_token: "pm_card_amex" },
      }),
      409,
      "conflict",
    );
  });
});
