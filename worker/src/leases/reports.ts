/**
 * What nodes report about the leases they serve (heartbeat `lease_reports`): the latest counters
 * per contract and the end-of-lease receipt. Settlement bills the measured `bytes_out` as egress;
 * contracts show the receipt and the measured egress.
 */
import type { Env } from "../env";
import type { LeaseReportInput } from "./reports-schema";
import { endedUnsettledAmong } from "../db/contracts";
import { type LeaseReportUpsert, upsertLeaseReports } from "../db/lease-reports";
export { BYTES_PER_GB, leaseFields } from "./fields";

/**
 * Stores one heartbeat's reports in one statement (a node may report up to 1,000 leases; one
 * statement keeps that within D1's per-request query budget). A report for a contract that is not
 * on this node is ignored; a stored receipt is never overwritten. Returns the contracts whose
 * receipt arrived with this call.
 */
export async function storeLeaseReports(env: Env, nodeId: string, reports: LeaseReportInput[], now: number): Promise<string[]> {
  if (reports.length === 0) return [];
  // One entry per contract: a receipt wins over counters, else the last one sent.
  const byContract = new Map<string, LeaseReportInput>();
  for (const r of reports) {
    const prev = byContract.get(r.contract_id);
    if (!prev || !prev.final || r.final) byContract.set(r.contract_id, r);
  }
  const rows = [...byContract.values()].map(
    (r): LeaseReportUpsert => ({
      contract_id: r.contract_id,
      bytes_in: r.bytes_in,
      bytes_out: r.bytes_out,
      keys: r.keys,
      used_bytes: r.used_bytes,
      final: r.final ? 1 : 0,
      digest: r.final ? r.digest! : null,
      wiped_at: r.final ? Date.parse(r.wiped_at!) : null,
    }),
  );
  const res = await upsertLeaseReports(env.DB, nodeId, rows, now);
  return res.results.filter((r) => r.final === 1).map((r) => r.contract_id);
}

/**
 * A receipt that lands after its contract ended lets settlement go at once instead of waiting out
 * LEASE_REPORT_WAIT_SEC: a fresh settlement message for each such contract.
 */
export async function settleAfterReceipts(env: Env, contractIds: string[]): Promise<number> {
  if (contractIds.length === 0) return 0;
  const due = await endedUnsettledAmong(env.DB, contractIds);
  if (due.length === 0) return 0;
  await env.SETTLEMENT_QUEUE.sendBatch(due.map((id) => ({ body: { contract_id: id } })));
  return due.length;
}
