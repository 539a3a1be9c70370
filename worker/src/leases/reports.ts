/**
 * What nodes report about the leases they serve (heartbeat `lease_reports`): the latest counters
 * per contract and the end-of-lease receipt. Settlement bills the measured `bytes_out` as egress;
 * contracts show the receipt and the measured egress.
 */
import type { Env } from "../env";
import type { LeaseReportInput } from "./reports-schema";
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
  const rows = [...byContract.values()].map((r) => ({
    contract_id: r.contract_id,
    bytes_in: r.bytes_in,
    bytes_out: r.bytes_out,
    keys: r.keys,
    used_bytes: r.used_bytes,
    final: r.final ? 1 : 0,
    digest: r.final ? r.digest! : null,
    wiped_at: r.final ? Date.parse(r.wiped_at!) : null,
  }));
  const res = await env.DB.prepare(
    `INSERT INTO lease_reports (contract_id, node_id, bytes_in, bytes_out, keys, used_bytes, final, digest, wiped_at, reported_at)
     SELECT k.id, k.node_id, json_extract(j.value, '$.bytes_in'), json_extract(j.value, '$.bytes_out'), json_extract(j.value, '$.keys'),
            json_extract(j.value, '$.used_bytes'), json_extract(j.value, '$.final'), json_extract(j.value, '$.digest'), json_extract(j.value, '$.wiped_at'), ?3
     FROM json_each(?1) j JOIN contracts k ON k.id = json_extract(j.value, '$.contract_id') AND k.node_id = ?2
     WHERE true
     ON CONFLICT (contract_id) DO UPDATE SET bytes_in = excluded.bytes_in, bytes_out = excluded.bytes_out, keys = excluded.keys, used_bytes = excluded.used_bytes,
       final = excluded.final, digest = excluded.digest, wiped_at = excluded.wiped_at, reported_at = excluded.reported_at
     WHERE lease_reports.final = 0
     RETURNING contract_id, final`,
  )
    .bind(JSON.stringify(rows), nodeId, now)
    .all<{ contract_id: string; final: number }>();
  return res.results.filter((r) => r.final === 1).map((r) => r.contract_id);
}

/**
 * A receipt that lands after its contract ended lets settlement go at once instead of waiting out
 * LEASE_REPORT_WAIT_SEC: a fresh settlement message for each such contract.
 */
export async function settleAfterReceipts(env: Env, contractIds: string[]): Promise<number> {
  if (contractIds.length === 0) return 0;
  const due = await env.DB.prepare(
    `SELECT id FROM contracts WHERE id IN (SELECT value FROM json_each(?1)) AND ended_at IS NOT NULL AND charged_micro IS NULL`,
  )
    .bind(JSON.stringify(contractIds))
    .all<{ id: string }>();
  if (due.results.length === 0) return 0;
  await env.SETTLEMENT_QUEUE.sendBatch(due.results.map((r) => ({ body: { contract_id: r.id } })));
  return due.results.length;
}
