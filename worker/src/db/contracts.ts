/**
 * The contracts table: the reads the use cases need and the guarded updates that make a contract's
 * transitions safe under races, under intent names. Every guarded statement keeps its guard (the
 * WHERE on the row as it was read): a decision made before an await never overrules one that
 * landed meanwhile (docs/scale.md). Imports only db/schema and domain/ (lib/ imports db/schema, so
 * nothing here may import lib/ at run time).
 */
import { and, count, desc, eq, inArray, type SQL, sql } from "drizzle-orm";
import { createDb } from "./client";
import { contracts, type ContractRow } from "./schema";

export async function findContract(d1: D1Database, id: string): Promise<ContractRow | undefined> {
  return createDb(d1).select().from(contracts).where(eq(contracts.id, id)).get();
}

/** GB held on a node by its pending and active contracts. */
export async function heldOnNode(d1: D1Database, nodeId: string): Promise<{ ram: number; vram: number }> {
  const r = await d1
    .prepare(
      `SELECT COALESCE(SUM(ram_gb),0) AS ram, COALESCE(SUM(vram_gb),0) AS vram FROM contracts WHERE node_id = ? AND status IN ('pending','active')`,
    )
    .bind(nodeId)
    .first<{ ram: number; vram: number }>();
  return { ram: r?.ram ?? 0, vram: r?.vram ?? 0 };
}

export interface OpenContractOfNode {
  id: string;
  ram_gb: number;
  vram_gb: number;
  end_time: number | null;
  status: "pending" | "active";
}

/** Every pending or active contract a node must hold, oldest first. */
export async function openContractsOfNode(d1: D1Database, nodeId: string): Promise<OpenContractOfNode[]> {
  const rows = await d1
    .prepare(
      `SELECT id, ram_gb, vram_gb, end_time, status FROM contracts WHERE node_id = ? AND status IN ('pending','active') AND ended_at IS NULL ORDER BY created_at, id`,
    )
    .bind(nodeId)
    .all<OpenContractOfNode>();
  return rows.results;
}

/** Those of `ids` that ended and are not settled yet. The ids go in as one JSON parameter (D1 binds at most 100). */
export async function endedUnsettledAmong(d1: D1Database, ids: string[]): Promise<string[]> {
  const due = await d1
    .prepare(`SELECT id FROM contracts WHERE id IN (SELECT value FROM json_each(?1)) AND ended_at IS NOT NULL AND charged_micro IS NULL`)
    .bind(JSON.stringify(ids))
    .all<{ id: string }>();
  return due.results.map((r) => r.id);
}

/** Those of a node's contracts still open (pending or active). */
export async function openContractsOnNode(d1: D1Database, nodeId: string): Promise<ContractRow[]> {
  return createDb(d1)
    .select()
    .from(contracts)
    .where(and(eq(contracts.nodeId, nodeId), inArray(contracts.status, ["pending", "active"])))
    .all();
}

/** Those of `ids` that are open on `nodeId`. The ids go in as one JSON parameter (D1 binds at most 100). */
export async function openContractsOnNodeAmong(d1: D1Database, nodeId: string, ids: string[]): Promise<ContractRow[]> {
  return createDb(d1)
    .select()
    .from(contracts)
    .where(
      and(
        eq(contracts.nodeId, nodeId),
        sql`${contracts.id} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`,
        inArray(contracts.status, ["pending", "active"]),
      ),
    )
    .all();
}

/** A contract, only if it is on `nodeId`. */
export async function findContractOnNode(d1: D1Database, id: string, nodeId: string): Promise<ContractRow | undefined> {
  return createDb(d1)
    .select()
    .from(contracts)
    .where(and(eq(contracts.id, id), eq(contracts.nodeId, nodeId)))
    .get();
}

export async function pendingInRegion(d1: D1Database, region: string): Promise<ContractRow[]> {
  return createDb(d1)
    .select()
    .from(contracts)
    .where(and(eq(contracts.region, region), eq(contracts.status, "pending")))
    .all();
}

export async function activeInRegion(d1: D1Database, region: string): Promise<ContractRow[]> {
  return createDb(d1)
    .select()
    .from(contracts)
    .where(and(eq(contracts.region, region), eq(contracts.status, "active")))
    .all();
}

/** The region's pending and active contracts: the reservations its Durable Object holds. */
export async function openInRegion(d1: D1Database, region: string): Promise<ContractRow[]> {
  return createDb(d1)
    .select()
    .from(contracts)
    .where(and(eq(contracts.region, region), inArray(contracts.status, ["pending", "active"])))
    .all();
}

export async function contractStatus(d1: D1Database, id: string): Promise<string | null> {
  const k = await d1.prepare(`SELECT status FROM contracts WHERE id = ?`).bind(id).first<{ status: string }>();
  return k?.status ?? null;
}

/** The open contracts of the region on an offline node, with whether that node was retired. */
export async function strandedInRegion(d1: D1Database, region: string): Promise<{ id: string; nodeRetired: boolean }[]> {
  const stranded = await d1
    .prepare(
      `SELECT k.*, n.retired_at AS node_retired_at FROM contracts k JOIN nodes n ON n.id = k.node_id
     WHERE k.region = ?1 AND k.status IN ('pending','active') AND k.ended_at IS NULL AND n.status = 'offline'`,
    )
    .bind(region)
    .all<Record<string, unknown>>();
  return stranded.results.map((r) => ({ id: r.id as string, nodeRetired: r.node_retired_at !== null }));
}

/** Failed contracts of the region whose failover has no result yet, ended before `endedBefore`. */
export async function unplacedFailovers(d1: D1Database, region: string, endedBefore: number): Promise<string[]> {
  const unplaced = await d1
    .prepare(
      `SELECT id FROM contracts WHERE region = ?1 AND status = 'failed' AND failover_done_at IS NULL AND failed_over_to IS NULL AND ended_at < ?2 ORDER BY ended_at LIMIT 20`,
    )
    .bind(region, endedBefore)
    .all<{ id: string }>();
  return unplaced.results.map((r) => r.id);
}

/** The replacement an earlier failover attempt created for `id`, if any. */
export async function firstReplacementOf(d1: D1Database, id: string): Promise<string | null> {
  const earlier = await d1
    .prepare(`SELECT id FROM contracts WHERE failed_over_from = ? ORDER BY created_at LIMIT 1`)
    .bind(id)
    .first<{ id: string }>();
  return earlier?.id ?? null;
}

// ---- guarded updates ---------------------------------------------------------------------------

/**
 * The contract row as it was read, as a ledger guard: an ending, renewal or extension decided on it
 * applies only while the row is still exactly that (same status, term, renewals, grace, not ended),
 * so a decision made before an await can never overrule one that landed meanwhile.
 */
export function sameRowGuard(k: ContractRow): { sql: string; binds: unknown[] } {
  return {
    sql: `EXISTS (SELECT 1 FROM contracts WHERE id = ? AND status = ? AND term_sec = ? AND renewals = ? AND grace_until IS ? AND ended_at IS NULL)`,
    binds: [k.id, k.status, k.termSec, k.renewals, k.graceUntil],
  };
}

/** `ready`: pending → active, the term starting at `now`. False when it was not pending on this node. */
export async function activateIfPending(d1: D1Database, contractId: string, nodeId: string, now: number): Promise<boolean> {
  const res = await d1
    .prepare(
      `UPDATE contracts SET status = 'active', start_time = ?1, end_time = ?1 + term_sec * 1000
     WHERE id = ?2 AND node_id = ?3 AND status = 'pending' AND ended_at IS NULL`,
    )
    .bind(now, contractId, nodeId)
    .run();
  return res.meta.changes === 1;
}

export interface Ending {
  status: "completed" | "failed" | "cancelled";
  at: number;
  reason: string;
  egressGb: number | null;
  costMicro: number;
}

/** Ends the contract only if the row is still `k` as read (open, same status, term, renewals, grace). */
export async function endIfUnchanged(d1: D1Database, k: ContractRow, e: Ending): Promise<boolean> {
  const res = await d1
    .prepare(
      `UPDATE contracts SET status = ?1, ended_at = ?2, end_reason = ?3, actual_egress_gb = ?4, total_cost_micro = ?5, accrued_cost_micro = ?5, completed_at = ?2
       WHERE id = ?6 AND ended_at IS NULL AND status = ?7 AND term_sec = ?8 AND renewals = ?9 AND grace_until IS ?10`,
    )
    .bind(e.status, e.at, e.reason, e.egressGb, e.costMicro, k.id, k.status, k.termSec, k.renewals, k.graceUntil)
    .run();
  return res.meta.changes > 0;
}

/** Adds `additionalSec` to the term and `costMicro` to the hold, only on the row as read (for a ledger batch). */
export function extendIfUnchangedStatement(d1: D1Database, k: ContractRow, additionalSec: number, costMicro: number): D1PreparedStatement {
  return d1
    .prepare(
      `UPDATE contracts SET term_sec = term_sec + ?1, end_time = CASE WHEN end_time IS NULL THEN NULL ELSE end_time + ?1 * 1000 END,
               held_micro = held_micro + ?2, total_cost_micro = total_cost_micro + ?2
             WHERE id = ?3 AND status = ?4 AND term_sec = ?5 AND renewals = ?6 AND grace_until IS ?7 AND ended_at IS NULL`,
    )
    .bind(additionalSec, costMicro, k.id, k.status, k.termSec, k.renewals, k.graceUntil);
}

/** Holds the next term (`duration_sec` more) and clears the grace, only on the row as read (for a ledger batch). */
export function renewIfUnchangedStatement(d1: D1Database, k: ContractRow, costMicro: number): D1PreparedStatement {
  return d1
    .prepare(
      `UPDATE contracts SET end_time = end_time + ?1 * 1000, term_sec = term_sec + ?1, renewals = renewals + 1, grace_until = NULL,
             held_micro = held_micro + ?2, total_cost_micro = total_cost_micro + ?2
           WHERE id = ?3 AND status = ?4 AND term_sec = ?5 AND renewals = ?6 AND grace_until IS ?7 AND ended_at IS NULL`,
    )
    .bind(k.durationSec, costMicro, k.id, k.status, k.termSec, k.renewals, k.graceUntil);
}

/** Starts the balance grace period, unless one runs already or the term changed or ended. */
export async function startGraceIfNone(d1: D1Database, k: ContractRow, graceUntil: number): Promise<void> {
  await d1
    .prepare(
      `UPDATE contracts SET grace_until = ?1 WHERE id = ?2 AND grace_until IS NULL AND ended_at IS NULL AND renewals = ?3 AND term_sec = ?4`,
    )
    .bind(graceUntil, k.id, k.renewals, k.termSec)
    .run();
}

/** The failover has its result (no replacement possible); recorded once. */
export async function markFailoverDone(d1: D1Database, id: string, at: number): Promise<void> {
  await d1.prepare(`UPDATE contracts SET failover_done_at = ?1 WHERE id = ?2 AND failover_done_at IS NULL`).bind(at, id).run();
}

/** Links a replacement an earlier attempt created, unless one is linked already. */
export async function linkReplacementIfUnlinked(d1: D1Database, id: string, replacementId: string, at: number): Promise<void> {
  await d1
    .prepare(`UPDATE contracts SET failed_over_to = ?1, failover_done_at = ?2 WHERE id = ?3 AND failed_over_to IS NULL`)
    .bind(replacementId, at, id)
    .run();
}

/** Links the replacement this failover just created. */
export async function linkReplacement(d1: D1Database, id: string, replacementId: string, at: number): Promise<void> {
  await d1.prepare(`UPDATE contracts SET failed_over_to = ?1, failover_done_at = ?2 WHERE id = ?3`).bind(replacementId, at, id).run();
}

/**
 * The accrued cost of every running contract of the region, in one statement (same rounding as
 * domain/money.ts: per started second, at least the minimum, rounded up to the micro-USD). D1 binds
 * every JS number as REAL: the CAST keeps the divisions integer divisions.
 */
export async function meterRunning(d1: D1Database, region: string, now: number): Promise<void> {
  await d1
    .prepare(
      `UPDATE contracts SET accrued_cost_micro =
       ((ram_gb + vram_gb) * MIN((MAX(end_time, COALESCE(grace_until, 0)) - start_time + 999) / 1000,
                                 MAX(min_duration_sec, (CAST(?1 AS INTEGER) - start_time + 999) / 1000)) * price_nano + 999) / 1000
     WHERE region = ?2 AND status = 'active' AND ended_at IS NULL AND start_time IS NOT NULL`,
    )
    .bind(now, region)
    .run();
}

/** The ledger guard of a settlement: the contract ended, is not charged yet, and still holds `heldMicro`. */
export function unsettledGuard(id: string, heldMicro: number): { sql: string; binds: unknown[] } {
  return {
    sql: `EXISTS (SELECT 1 FROM contracts WHERE id = ? AND ended_at IS NOT NULL AND charged_micro IS NULL AND held_micro = ?)`,
    binds: [id, heldMicro],
  };
}

/** Records the charge and the settlement hash, under the same condition as unsettledGuard (for a ledger batch). */
export function markChargedIfUnsettledStatement(
  d1: D1Database,
  id: string,
  chargedMicro: number,
  settlementHash: string,
  heldMicro: number,
): D1PreparedStatement {
  return d1
    .prepare(
      `UPDATE contracts SET charged_micro = ?1, held_micro = 0, settlement_hash = ?2 WHERE id = ?3 AND ended_at IS NOT NULL AND charged_micro IS NULL AND held_micro = ?4`,
    )
    .bind(chargedMicro, settlementHash, id, heldMicro);
}

/** Contracts of the region ended before `endedBefore` and not settled, oldest first. */
export async function endedUnsettledInRegion(d1: D1Database, region: string, endedBefore: number, limit: number): Promise<string[]> {
  const unsettled = await d1
    .prepare(
      `SELECT id FROM contracts WHERE region = ?1 AND charged_micro IS NULL AND ended_at IS NOT NULL AND ended_at < ?2 ORDER BY ended_at LIMIT ?3`,
    )
    .bind(region, endedBefore, limit)
    .all<{ id: string }>();
  return unsettled.results.map((k) => k.id);
}

export interface OpenReservationRow {
  id: string;
  node_id: string;
  ram_gb: number;
  vram_gb: number;
  client_user_id: string;
  status: string;
  end_time: number | null;
  created_at: number;
}

/** The region's open contracts, as much as a reservation needs. */
export async function openReservationRowsInRegion(d1: D1Database, region: string): Promise<OpenReservationRow[]> {
  const open = await d1
    .prepare(
      `SELECT id, node_id, ram_gb, vram_gb, client_user_id, status, end_time, created_at FROM contracts WHERE region = ? AND status IN ('pending','active') AND ended_at IS NULL`,
    )
    .bind(region)
    .all<OpenReservationRow>();
  return open.results;
}

/** When the contract ended (null: still open); null when there is no such contract. */
export async function endedAtOf(d1: D1Database, id: string): Promise<{ endedAt: number | null } | null> {
  const k = await d1.prepare(`SELECT ended_at FROM contracts WHERE id = ?`).bind(id).first<{ ended_at: number | null }>();
  return k ? { endedAt: k.ended_at } : null;
}

/** How many pending and active contracts the node has. */
export async function openContractCountOnNode(d1: D1Database, nodeId: string): Promise<number> {
  const r = await d1
    .prepare(`SELECT COUNT(*) AS n FROM contracts WHERE node_id = ? AND status IN ('pending','active')`)
    .bind(nodeId)
    .first<{ n: number }>();
  return r?.n ?? 0;
}

/** What a contract costs and what of it was charged, with whom it is between. */
export async function debtOf(d1: D1Database, id: string) {
  return d1
    .prepare(`SELECT id, client_id, client_user_id, provider_id, total_cost_micro, charged_micro FROM contracts WHERE id = ?`)
    .bind(id)
    .first<{
      id: string;
      client_id: string;
      client_user_id: string;
      provider_id: string;
      total_cost_micro: number;
      charged_micro: number | null;
    }>();
}

/** Adds a collected `takeMicro` to the charge, only if the charge is still `chargedBefore` (for a ledger batch). */
export function collectIfChargedStatement(d1: D1Database, id: string, takeMicro: number, chargedBefore: number): D1PreparedStatement {
  return d1
    .prepare(`UPDATE contracts SET charged_micro = charged_micro + ?1 WHERE id = ?2 AND charged_micro = ?3`)
    .bind(takeMicro, id, chargedBefore);
}

export interface ContractFilter {
  clientUserId?: string;
  providerId?: string;
  status?: ContractRow["status"];
  nodeId?: string;
}

/** A page of contracts, newest first, and how many match in all. */
export async function pageOfContracts(
  d1: D1Database,
  f: ContractFilter,
  limit: number,
  offset: number,
): Promise<{ rows: ContractRow[]; total: number }> {
  const db = createDb(d1);
  const conds: SQL[] = [];
  if (f.clientUserId !== undefined) conds.push(eq(contracts.clientUserId, f.clientUserId));
  if (f.providerId !== undefined) conds.push(eq(contracts.providerId, f.providerId));
  if (f.status) conds.push(eq(contracts.status, f.status));
  if (f.nodeId) conds.push(eq(contracts.nodeId, f.nodeId));
  const where = conds.length ? and(...conds) : undefined;
  const [rows, total] = await db.batch([
    db.select().from(contracts).where(where).orderBy(desc(contracts.createdAt), contracts.id).limit(limit).offset(offset),
    db.select({ n: count() }).from(contracts).where(where),
  ]);
  return { rows, total: total[0]?.n ?? 0 };
}

/** What a user's active contracts cost per second at their prices, in nano-USD (0 when none run). */
export async function burnNanoPerSecOfUser(d1: D1Database, userId: string): Promise<number> {
  const burn = await d1
    .prepare(
      `SELECT COALESCE(SUM((ram_gb + vram_gb) * price_nano), 0) AS nano_per_sec FROM contracts WHERE client_user_id = ? AND status = 'active' AND ended_at IS NULL`,
    )
    .bind(userId)
    .first<{ nano_per_sec: number }>();
  return burn?.nano_per_sec ?? 0;
}

/** How many of a region's contracts are in each status (statuses with none are absent). */
export async function contractCountsByStatusInRegion(d1: D1Database, region: string): Promise<{ status: string; n: number }[]> {
  const counts = await d1
    .prepare(`SELECT status, COUNT(*) AS n FROM contracts WHERE region = ? GROUP BY status`)
    .bind(region)
    .all<{ status: string; n: number }>();
  return counts.results;
}
