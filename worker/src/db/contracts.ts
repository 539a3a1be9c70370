/**
 * The contracts table: the reads the use cases need and the guarded updates that make a contract's
 * transitions safe under races, under intent names. Every guarded statement keeps its guard (the
 * WHERE on the row as it was read): a decision made before an await never overrules one that
 * landed meanwhile (docs/scale.md). Imports only db/schema and domain/ (lib/ imports db/schema, so
 * nothing here may import lib/ at run time).
 */
import { eq } from "drizzle-orm";
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
