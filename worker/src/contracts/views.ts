import type { Env } from "../env";
import type { ContractRow, LeaseReportRow } from "../db/schema";
import { loadLeaseReports } from "../db/lease-reports";
import { leaseFields } from "../leases/fields";
import { microToUsd, nanoToPrice } from "../domain/money";
import { iso } from "../lib/time";

/** `report`: the node's lease report for this contract, if any (leases/reports.ts loads it). */
export function contractView(k: ContractRow, report: LeaseReportRow | null = null) {
  return {
    id: k.id,
    client_id: k.clientId,
    node_id: k.nodeId,
    region: k.region,
    ram_gb: k.ramGb,
    vram_gb: k.vramGb,
    duration_sec: k.durationSec,
    start_time: iso(k.startTime),
    end_time: iso(k.endTime),
    price_per_gb_sec: nanoToPrice(k.priceNano),
    egress_price_per_gb: microToUsd(k.egressPriceMicro),
    total_cost_usd: microToUsd(k.totalCostMicro),
    accrued_cost_usd: microToUsd(k.accruedCostMicro),
    held_usd: microToUsd(k.heldMicro),
    charged_usd: k.chargedMicro === null ? null : microToUsd(k.chargedMicro),
    outstanding_usd: k.chargedMicro === null ? 0 : microToUsd(Math.max(0, k.totalCostMicro - k.chargedMicro)),
    auto_renew: k.autoRenew === 1,
    status: k.status,
    end_reason: k.endReason,
    ended_at: iso(k.endedAt),
    grace_until: iso(k.graceUntil),
    renewals: k.renewals,
    settlement_hash: k.settlementHash,
    failed_over_to: k.failedOverTo,
    failed_over_from: k.failedOverFrom,
    created_at: iso(k.createdAt)!,
    completed_at: iso(k.completedAt),
    ...leaseFields(report),
  };
}
export type ContractView = ReturnType<typeof contractView>;

/** Contract views with their lease fields, one read for the whole page. */
export async function contractViews(env: Env, rows: ContractRow[]) {
  const reports = await loadLeaseReports(
    env.DB,
    rows.map((k) => k.id),
  );
  return rows.map((k) => contractView(k, reports.get(k.id) ?? null));
}

export async function contractViewOf(env: Env, k: ContractRow) {
  return (await contractViews(env, [k]))[0];
}
