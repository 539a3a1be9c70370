import type { LeaseReportRow } from "../db/schema";

/** A GB is 2^30 bytes everywhere, lease quotas and egress included. */
export const BYTES_PER_GB = 2 ** 30;

/**
 * The lease fields of a contract view. `measured_egress_gb` is what settlement billed once it has,
 * else the node's latest `bytes_out`; GB = 2^30 bytes, so the figure is exact in binary.
 */
export function leaseFields(report: LeaseReportRow | null | undefined) {
  if (!report) return { lease_receipt: null, measured_egress_gb: null };
  const receipt =
    report.final === 1 && report.digest !== null && report.wipedAt !== null
      ? {
          contract_id: report.contractId,
          bytes_in: report.bytesIn,
          bytes_out: report.bytesOut,
          keys: report.keys,
          used_bytes: report.usedBytes,
          digest: report.digest,
          wiped_at: new Date(report.wipedAt).toISOString(),
        }
      : null;
  return { lease_receipt: receipt, measured_egress_gb: (report.billedBytesOut ?? report.bytesOut) / BYTES_PER_GB };
}
