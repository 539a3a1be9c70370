// Settlement bills the egress the node measured (bytes_out), waits for the node's end-of-lease
// receipt with a delayed queue retry (never a busy wait), and falls back to the last counters, then
// to the renter's own figure. The node sells egress at $0.05/GB = 50,000 micro-USD per 2^30 bytes;
// the contracts hold 24 GB at 1,234 nano-USD/GB-s and run 90.5 s → 91 s → 2,696 micro-USD of time.
import { describe, expect, it } from "vitest";
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import worker from "../index";
import { api, env } from "../../test/helpers";
import { contractRow, createContract, heartbeat, ledgerOf, market, settled, shiftStart, type Setup } from "../../test/money";
import { egressCostMicroFromBytes } from "../domain/lease-egress";

const GB = 2 ** 30;
const TIME_COST = 2_696;
const DIGEST = "0f".repeat(32);

/** The worker's env with settlement waiting the default 120 s for lease receipts (the test config sets 0). */
// (defined, not assigned: an assignment would reach the shared env through the prototype chain)
const waiting = Object.create(env, { LEASE_REPORT_WAIT_SEC: { value: "120" } }) as typeof env;

async function running(): Promise<{ s: Setup; k: any }> {
  const s = await market(1, { price_per_gb_sec: 0.000001234, total_ram_gb: 64, total_vram_gb: 24, egress_price_per_gb: 0.05 });
  const k = await createContract(s, { ram_gb: 16, vram_gb: 8, duration_sec: 3600 });
  await heartbeat(s); // delivers it; the agent makes it ready
  await shiftStart(k.id, 90_500);
  return { s, k };
}

async function report(s: Setup, contractId: string, bytesOut: number, final = false) {
  await env.DB.prepare(`UPDATE nodes SET last_heartbeat_at = last_heartbeat_at - 60000 WHERE id = ?`).bind(s.node.id).run();
  const r = await api("POST", `/api/nodes/${s.node.id}/heartbeat`, {
    token: s.provider.token,
    body: {
      available_ram_gb: 64,
      available_vram_gb: 24,
      lease_reports: [
        {
          contract_id: contractId,
          bytes_in: 10,
          bytes_out: bytesOut,
          keys: final ? 0 : 2,
          used_bytes: final ? 0 : 100,
          final,
          ...(final ? { digest: DIGEST, wiped_at: new Date().toISOString() } : {}),
        },
      ],
    },
  });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
}

/**
 * Ends the contract `agoMs` ago as the renter's settle would (the time held plus the renter's egress
 * figure, if any), without queueing a message: the test drives the consumer itself.
 */
async function endedWithoutMessage(k: any, agoMs: number, renterEgressGb: number | null = null) {
  const row = await contractRow(k.id);
  const at = Date.now() - agoMs;
  await env.DB.prepare(
    `UPDATE contracts SET start_time = ?1, end_time = ?1 + term_sec * 1000, status = 'completed', ended_at = ?2, end_reason = 'test', completed_at = ?2, total_cost_micro = ?3, accrued_cost_micro = ?3, actual_egress_gb = ?4 WHERE id = ?5`,
  )
    .bind(at - 90_500, at, TIME_COST + (renterEgressGb ?? 0) * 50_000, renterEgressGb, k.id)
    .run();
  return row;
}

/** One delivery to the consumer; `retryDelays` records the delay of each retry (the plugin's result does not). */
async function deliver(contractId: string, attempts = 1, e = waiting) {
  const ctx = createExecutionContext();
  const id = `m-${crypto.randomUUID()}`;
  const batch = createMessageBatch("mnemo-settlement", [{ id, timestamp: new Date(), attempts, body: { contract_id: contractId } }]);
  const retryDelays: (number | undefined)[] = [];
  for (const m of batch.messages) {
    const retry = m.retry.bind(m);
    Object.defineProperty(m, "retry", { value: (o?: QueueRetryOptions) => (retryDelays.push(o?.delaySeconds), retry(o)) });
  }
  await worker.queue(batch as any, e);
  return { id, result: await getQueueResult(batch, ctx), retryDelays };
}

const charged = async (contractId: string) =>
  (await ledgerOf({ contractId })).filter((e) => e.kind === "charge").map((e) => e.amount_micro);

describe("egress is what the node measured", () => {
  it("exact rounding: bytes / 2^30 × price, rounded up to the micro-USD", () => {
    expect(egressCostMicroFromBytes(0, 50_000)).toBe(0);
    expect(egressCostMicroFromBytes(GB, 50_000)).toBe(50_000);
    expect(egressCostMicroFromBytes(1, 50_000)).toBe(1); // 0.0000466 micro → 1
    expect(egressCostMicroFromBytes(3 * GB + GB / 2, 50_000)).toBe(175_000);
    expect(egressCostMicroFromBytes(GB + 1, 50_000)).toBe(50_001);
    expect(egressCostMicroFromBytes(2 ** 40, 1_000_000_000)).toBe(1_024_000_000_000); // 1,024 GB at $1,000/GB, no float drift
    expect(() => egressCostMicroFromBytes(-1, 1)).toThrow(RangeError);
    expect(() => egressCostMicroFromBytes(1.5, 1)).toThrow(RangeError);
  });

  it("bills the receipt's bytes_out, not the renter's figure", async () => {
    const { s, k } = await running();
    await report(s, k.id, GB); // live counters
    await report(s, k.id, 2 * GB + GB / 4, true); // the receipt: 2.25 GB → 112,500 micro
    await shiftStart(k.id, 90_500); // right before the settle, so the time held stays 91 started seconds
    const r = await api("POST", `/api/contracts/${k.id}/settle`, { token: s.renter.token, body: { actual_egress_gb: 7 } });
    expect(r.status).toBe(200);
    const row = await settled(k.id);
    expect(row.total_cost_micro).toBe(TIME_COST + 112_500);
    expect(await charged(k.id)).toEqual([-(TIME_COST + 112_500)]);
    const view = (await api("GET", `/api/contracts/${k.id}`, { token: s.renter.token })).body.contract;
    expect(view).toMatchObject({ measured_egress_gb: 2.25, total_cost_usd: 0.115196, charged_usd: 0.115196 });
    expect(view.lease_receipt).toMatchObject({ bytes_out: 2 * GB + GB / 4, digest: DIGEST });
    // A late, larger report changes nothing that was billed.
    await deliver(k.id);
    expect(await charged(k.id)).toEqual([-(TIME_COST + 112_500)]);
  });

  it("uses the renter's actual_egress_gb only when the node reported nothing", async () => {
    const { s, k } = await running();
    await shiftStart(k.id, 90_500);
    await api("POST", `/api/contracts/${k.id}/settle`, { token: s.renter.token, body: { actual_egress_gb: 2 } });
    const row = await settled(k.id);
    expect(row.total_cost_micro).toBe(TIME_COST + 100_000);
    expect((await api("GET", `/api/contracts/${k.id}`, { token: s.renter.token })).body.contract.measured_egress_gb).toBeNull();
  });
});

describe("settlement waits for the node's receipt", () => {
  it("retries the message with a delay that ends LEASE_REPORT_WAIT_SEC after the end, then a receipt settles it at once", async () => {
    const { s, k } = await running();
    await report(s, k.id, GB);
    await endedWithoutMessage(k, 20_000, 9); // ended 20 s ago; the renter claimed 9 GB
    const first = await deliver(k.id);
    expect(first.result.explicitAcks).toEqual([]);
    expect(first.result.retryMessages).toHaveLength(1);
    expect(first.retryDelays).toHaveLength(1);
    const delay = first.retryDelays[0]!;
    expect(delay).toBeGreaterThanOrEqual(99);
    expect(delay).toBeLessThanOrEqual(100);
    expect((await contractRow(k.id)).charged_micro).toBeNull();

    // The receipt arrives: the heartbeat queues a fresh message and the contract settles now.
    await report(s, k.id, 3 * GB, true);
    const row = await settled(k.id);
    expect(row.total_cost_micro).toBe(TIME_COST + 150_000);
    // The delayed retry, when it comes, finds it settled.
    const late = await deliver(k.id, 2);
    expect(late.result.explicitAcks).toEqual([late.id]);
    expect(await charged(k.id)).toEqual([-(TIME_COST + 150_000)]);
  });

  it("after the wait, bills the last counters the node sent", async () => {
    const { s, k } = await running();
    await report(s, k.id, GB / 2);
    await report(s, k.id, 4 * GB); // counters only: the node never sent its receipt
    await endedWithoutMessage(k, 121_000, 9);
    const r = await deliver(k.id);
    expect(r.result.retryMessages).toEqual([]);
    expect(r.result.explicitAcks).toEqual([r.id]);
    const row = await contractRow(k.id);
    expect(row.total_cost_micro).toBe(TIME_COST + 200_000);
    expect(row.charged_micro).toBe(TIME_COST + 200_000);
    expect((await api("GET", `/api/contracts/${k.id}`, { token: s.renter.token })).body.contract).toMatchObject({
      measured_egress_gb: 4,
      lease_receipt: null,
    });
  });

  it("never spends the retry budget on waiting: a message already retried is re-sent fresh instead", async () => {
    const { s, k } = await running();
    await report(s, k.id, GB);
    await endedWithoutMessage(k, 117_000); // 3 s of the wait left
    const r = await deliver(k.id, 3); // max_retries is 5; a third delivery does not retry again
    expect(r.result.retryMessages).toEqual([]);
    expect(r.result.explicitAcks).toEqual([r.id]);
    // A fresh message went to the real queue, delayed to the end of the wait; its consumer
    // (LEASE_REPORT_WAIT_SEC=0 in this test config) settles the contract when it arrives.
    expect((await contractRow(k.id)).charged_micro).toBeNull();
    const row = await settled(k.id, 15_000);
    expect(row.total_cost_micro).toBe(TIME_COST + 50_000);
  });

  it("never bills more bytes than the node's declared bandwidth could carry in the time held", async () => {
    const { s, k } = await running();
    await report(s, k.id, 100 * GB, true); // 100 GB in 91 s at 1,000 Mbps is impossible
    await endedWithoutMessage(k, 121_000);
    await deliver(k.id);
    // 1,000 Mbps × 125,000 B/s per Mbps × 91 s = 11,375,000,000 B → × 50,000 / 2^30 = 529,689.1… → 529,690 micro.
    const row = await contractRow(k.id);
    expect(row.total_cost_micro).toBe(TIME_COST + 529_690);
    expect((await api("GET", `/api/contracts/${k.id}`, { token: s.renter.token })).body.contract.measured_egress_gb).toBe(
      11_375_000_000 / GB,
    );
  });

  it("does not wait for a contract that never became active", async () => {
    const s = await market(1, { price_per_gb_sec: 0.000001234, total_ram_gb: 64, total_vram_gb: 24, egress_price_per_gb: 0.05 });
    const k = await createContract(s, { ram_gb: 16, vram_gb: 8, duration_sec: 3600 });
    await env.DB.prepare(`UPDATE contracts SET status = 'failed', ended_at = ?1, completed_at = ?1, total_cost_micro = 0 WHERE id = ?2`)
      .bind(Date.now(), k.id)
      .run();
    const r = await deliver(k.id);
    expect(r.result.explicitAcks).toEqual([r.id]);
    expect(await charged(k.id)).toEqual([0]);
  });
});
