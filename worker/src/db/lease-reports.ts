/**
 * The lease_reports table: what nodes report about the leases they serve. Imports only db/schema
 * and domain/ (lib/ imports db/schema, so nothing here may import lib/ at run time).
 */
import type { LeaseReportRow } from "./schema";

export async function loadLeaseReports(d1: D1Database, contractIds: string[]): Promise<Map<string, LeaseReportRow>> {
  const out = new Map<string, LeaseReportRow>();
  if (contractIds.length === 0) return out;
  const rows = await d1
    .prepare(`SELECT * FROM lease_reports WHERE contract_id IN (SELECT value FROM json_each(?1))`)
    .bind(JSON.stringify(contractIds))
    .all<Record<string, unknown>>();
  for (const r of rows.results) out.set(r.contract_id as string, leaseReportFromRaw(r));
  return out;
}

export function leaseReportFromRaw(r: Record<string, unknown>): LeaseReportRow {
  return {
    contractId: r.contract_id as string,
    nodeId: r.node_id as string,
    bytesIn: r.bytes_in as number,
    bytesOut: r.bytes_out as number,
    keys: r.keys as number,
    usedBytes: r.used_bytes as number,
    final: r.final as number,
    digest: r.digest as string | null,
    wipedAt: r.wiped_at as number | null,
    reportedAt: r.reported_at as number,
    billedBytesOut: r.billed_bytes_out as number | null,
    billedAt: r.billed_at as number | null,
  };
}

/** One report as stored: `final` 1 for the end-of-lease receipt, which alone has a digest and a wipe time. */
export interface LeaseReportUpsert {
  contract_id: string;
  bytes_in: number;
  bytes_out: number;
  keys: number;
  used_bytes: number;
  final: 0 | 1;
  digest: string | null;
  wiped_at: number | null;
}

/**
 * Stores reports in one statement. Only a contract on `nodeId` takes a report (the join), and a
 * stored receipt is never overwritten (`WHERE lease_reports.final = 0`). Returns what was written.
 */
export async function upsertLeaseReports(d1: D1Database, nodeId: string, rows: LeaseReportUpsert[], now: number) {
  return d1
    .prepare(
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
}

/** What settlement needs to bill a contract's measured egress: the contract, its lease report and its node's bandwidth. */
export interface EgressFacts {
  ended_at: number | null;
  start_time: number | null;
  status: string;
  charged_micro: number | null;
  actual_egress_gb: number | null;
  egress_price_micro: number;
  bytes_out: number | null;
  final: number | null;
  billed_at: number | null;
  bandwidth_mbps: number | null;
}

export async function egressFactsOf(d1: D1Database, contractId: string): Promise<EgressFacts | null> {
  return d1
    .prepare(
      `SELECT k.ended_at, k.start_time, k.status, k.charged_micro, k.actual_egress_gb, k.egress_price_micro, r.bytes_out, r.final, r.billed_at, n.bandwidth_mbps
     FROM contracts k LEFT JOIN lease_reports r ON r.contract_id = k.id LEFT JOIN nodes n ON n.id = k.node_id WHERE k.id = ?`,
    )
    .bind(contractId)
    .first<EgressFacts>();
}

/**
 * Moves the contract's cost by `deltaMicro` and records the billed bytes, in one batch guarded on
 * "report not billed, contract not charged": a redelivery changes nothing. True when it applied.
 */
export async function billMeasuredEgress(
  d1: D1Database,
  contractId: string,
  deltaMicro: number,
  bytes: number,
  now: number,
): Promise<boolean> {
  const [cost] = await d1.batch([
    d1
      .prepare(
        `UPDATE contracts SET total_cost_micro = MAX(0, total_cost_micro + ?1), accrued_cost_micro = MAX(0, total_cost_micro + ?1)
       WHERE id = ?2 AND charged_micro IS NULL AND EXISTS (SELECT 1 FROM lease_reports WHERE contract_id = ?2 AND billed_at IS NULL)`,
      )
      .bind(deltaMicro, contractId),
    d1
      .prepare(
        `UPDATE lease_reports SET billed_bytes_out = ?1, billed_at = ?2
       WHERE contract_id = ?3 AND billed_at IS NULL AND EXISTS (SELECT 1 FROM contracts WHERE id = ?3 AND charged_micro IS NULL)`,
      )
      .bind(bytes, now, contractId),
  ]);
  return cost.meta.changes === 1;
}
