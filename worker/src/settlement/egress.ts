/**
 * Egress at settlement: the node's measured `bytes_out` for the lease replaces the renter's own
 * `actual_egress_gb`, which counts only where the node reported nothing. Settlement waits up to
 * LEASE_REPORT_WAIT_SEC after the end for the node's final receipt (the consumer's delayed retry),
 * then bills the last counters the node sent.
 */
import { config, type Env } from "../env";
import { egressCostMicro } from "../domain/money";
import { egressCostMicroFromBytes } from "../domain/lease-egress";
import { billMeasuredEgress, egressFactsOf, type EgressFacts } from "../db/lease-reports";

/** A contract that never became active had no lease: nothing to measure, nothing to wait for. */
const hadLease = (k: EgressFacts) => k.start_time !== null && k.status !== "cancelled";

/**
 * Seconds settlement should still wait for the node's final receipt (0: settle now). Only ended,
 * unsettled contracts that held a lease wait, and never past LEASE_REPORT_WAIT_SEC after the end.
 */
export async function receiptWaitSec(env: Env, contractId: string, now: number): Promise<number> {
  const k = await egressFactsOf(env.DB, contractId);
  if (!k || k.ended_at === null || k.charged_micro !== null || !hadLease(k) || k.final === 1) return 0;
  const deadline = k.ended_at + config(env).leaseReportWaitSec * 1000;
  return deadline > now ? Math.ceil((deadline - now) / 1000) : 0;
}

/**
 * Puts the measured egress into the contract's final cost, once: the cost moves by (measured egress
 * cost − the renter-reported egress cost already in it), and the report records what was billed.
 * Both writes are one batch guarded on "not billed, not charged", so a redelivery changes nothing.
 */
export async function applyMeasuredEgress(env: Env, contractId: string, now: number): Promise<boolean> {
  const k = await egressFactsOf(env.DB, contractId);
  if (!k || k.ended_at === null || k.charged_micro !== null || !hadLease(k) || k.bytes_out === null || k.billed_at !== null) return false;
  // A node's counter can be wrong (or worse); the renter never pays for more bytes than the node's
  // own declared bandwidth could have carried over the time the lease was held.
  const heldSec = Math.max(0, Math.ceil((k.ended_at - k.start_time!) / 1000));
  const bytes = Math.min(k.bytes_out, (k.bandwidth_mbps ?? 0) * 125_000 * heldSec);
  const reported = k.actual_egress_gb ? egressCostMicro(k.actual_egress_gb, k.egress_price_micro) : 0;
  const delta = egressCostMicroFromBytes(bytes, k.egress_price_micro) - reported;
  return billMeasuredEgress(env.DB, contractId, delta, bytes, now);
}
