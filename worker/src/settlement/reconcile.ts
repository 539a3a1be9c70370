/**
 * The region reconciler, run by the region Durable Object's alarm after the sweeps. Ending a
 * contract is three steps (D1 update, DO release, queue message) and a failure between them must
 * never strand money or capacity, so each tick re-derives what should be from D1, the system of
 * record, and repairs the rest:
 * - a contract ended but not settled for longer than a settlement normally takes is queued again
 *   (settling is idempotent, so a duplicate message moves nothing);
 * - a reservation the DO holds for a contract D1 has ended is released; a D1 contract that is
 *   pending or active but unknown to the DO is held again;
 * - dead letters (settlement messages that exhausted their retries) are settled again until they
 *   succeed;
 * - a failover that ended its contract but threw before placing the rest of the term elsewhere
 *   is placed again (contracts/lifecycle.ts placeRemainder) until it has a result.
 */
import type { Env } from "../env";
import type { Reservation } from "../domain/capacity";
import { endedAtOf, endedUnsettledInRegion, openReservationRowsInRegion } from "../db/contracts";
import { resolveDeadLetter, retryDeadLetterLater, unresolvedDeadLettersInRegion } from "../db/dead-letters";
import { settleContractMoney } from "./settle";

/** Longer than a settlement normally takes (queue retries, the node's final lease report). */
export const REQUEUE_AFTER_MS = 300_000;
const BATCH = 100;

export interface ReconcilePort {
  reservationsOf(region: string): Promise<Reservation[]>;
  release(region: string, contractId: string): Promise<boolean>;
  rehold(region: string, r: Reservation): Promise<boolean>;
}

export interface ReconcileResult {
  requeued: number;
  released: number;
  reheld: number;
  deadLettersSettled: number;
}

export async function reconcileRegion(env: Env, region: string, self: ReconcilePort, now: number): Promise<ReconcileResult> {
  const result: ReconcileResult = { requeued: 0, released: 0, reheld: 0, deadLettersSettled: 0 };

  // 1. Ended, unsettled, and older than a settlement takes: queue it again.
  const unsettled = await endedUnsettledInRegion(env.DB, region, now - REQUEUE_AFTER_MS, BATCH);
  if (unsettled.length) {
    await env.SETTLEMENT_QUEUE.sendBatch(unsettled.map((id) => ({ body: { contract_id: id } })));
    result.requeued = unsettled.length;
  }

  // 2. The DO's reservations against D1.
  const open = await openReservationRowsInRegion(env.DB, region);
  const openIds = new Set(open.map((k) => k.id));
  const reservations = await self.reservationsOf(region);
  const known = new Set(reservations.map((r) => r.contractId));
  for (const r of reservations) {
    // Provisional ones belong to a creation in flight (the alarm's stale-provisional pass owns them).
    if (r.state !== "held" || openIds.has(r.contractId)) continue;
    // Read again right before acting: the contract may have been created after the scan above.
    const k = await endedAtOf(env.DB, r.contractId);
    if (k && k.endedAt !== null && (await self.release(region, r.contractId))) result.released++;
  }
  for (const k of open) {
    if (known.has(k.id)) continue;
    const still = await endedAtOf(env.DB, k.id);
    if (!still || still.endedAt !== null) continue;
    const reheld = await self.rehold(region, {
      contractId: k.id,
      nodeId: k.node_id,
      ramGb: k.ram_gb,
      vramGb: k.vram_gb,
      clientUserId: k.client_user_id,
      state: "held",
      endTime: k.status === "active" ? k.end_time : null,
      createdAt: k.created_at,
    });
    if (reheld) result.reheld++;
  }

  // 3. Dead letters of this region's contracts, settled again until they succeed.
  const dead = await unresolvedDeadLettersInRegion(env.DB, region);
  for (const d of dead) {
    try {
      const outcome = await settleContractMoney(env, d.contract_id);
      if (outcome === "not_ended") continue; // nothing to settle yet; it will be queued when it ends
      await resolveDeadLetter(env.DB, d.message_id, now);
      result.deadLettersSettled++;
    } catch (e) {
      await retryDeadLetterLater(env.DB, d.message_id, String((e as Error)?.message ?? e).slice(0, 500));
    }
  }
  return result;
}
