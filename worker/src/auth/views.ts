import type { ClientRow, UserRow } from "../db/schema";
import { microToUsd } from "../domain/money";
import { iso, monthKey } from "../lib/time";

export function userView(u: UserRow) {
  return {
    id: u.id,
    email: u.email,
    role: u.role,
    full_name: u.fullName,
    organization: u.organization,
    created_at: iso(u.createdAt)!,
  };
}

/** This month's committed spend: last month's figure no longer counts, only holds carried over. */
export function currentSpendMicro(c: ClientRow, now = Date.now()): number {
  return c.spendMonth === monthKey(now) ? c.spendMonthMicro : c.heldMicro;
}

export function clientView(c: ClientRow) {
  return {
    id: c.id,
    org_name: c.orgName,
    default_region: c.defaultRegion,
    latitude: c.latitude,
    longitude: c.longitude,
    budget_monthly_usd: c.budgetMonthlyMicro === null ? null : microToUsd(c.budgetMonthlyMicro),
    current_spend_usd: microToUsd(currentSpendMicro(c)),
    prefer_local: c.preferLocal === 1,
    max_latency_ms: c.maxLatencyMs,
    min_reliability: c.minReliability,
  };
}
