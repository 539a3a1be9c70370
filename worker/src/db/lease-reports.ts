/**
 * The lease_reports table: what nodes report about the leases they serve. Imports only db/schema
 * and domain/ (lib/ imports db/schema, so nothing here may import lib/ at run time).
 */
import type { Env } from "../env";
import type { LeaseReportRow } from "./schema";

export async function loadLeaseReports(env: Env, contractIds: string[]): Promise<Map<string, LeaseReportRow>> {
  const out = new Map<string, LeaseReportRow>();
  if (contractIds.length === 0) return out;
  const rows = await env.DB.prepare(`SELECT * FROM lease_reports WHERE contract_id IN (SELECT value FROM json_each(?1))`)
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
