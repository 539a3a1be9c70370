import type { Env } from "../env";
import type { NodeRow } from "../db/schema";
import { findNode, nodeFromRaw, snapshotOf } from "../db/nodes";
import { notFound, forbidden } from "../lib/errors";
import type { AuthUser } from "../lib/auth";
import { regionStub } from "../region/client";
import { nodeView } from "../views/nodes";

export async function loadNode(d1: D1Database, id: string) {
  const found = await findNode(d1, id);
  if (!found) throw notFound("node");
  return found;
}

/** The owner (or an admin) may change a node; anyone else gets 403. */
export function assertOwner(user: AuthUser, node: NodeRow) {
  if (user.role !== "admin" && node.providerId !== user.id) throw forbidden("this node belongs to another provider");
}

/** Tells the region DO about the node's current row. */
export async function syncNode(env: Env, node: NodeRow) {
  return regionStub(env, node.region).upsertNode(snapshotOf(node));
}

export interface NodeQuery {
  nodeType?: string;
  region?: string;
  status?: string;
  notOffline?: boolean;
  providerId?: string;
  minRam?: number;
  minVram?: number;
}

/** A page of nodes with their live held/available figures, computed in one query from D1. */
/** `viewer`: who asks; their own nodes (all of them, for an admin) show the lease endpoint. */
export async function queryNodes(env: Env, f: NodeQuery, limit: number, offset: number, viewer?: AuthUser) {
  const where: string[] = [];
  const params: unknown[] = [];
  if (f.nodeType) where.push("n.node_type = ?"), params.push(f.nodeType);
  if (f.region) where.push("n.region = ?"), params.push(f.region);
  if (f.status) where.push("n.status = ?"), params.push(f.status);
  if (f.notOffline) where.push("n.status != 'offline'");
  if (f.providerId) where.push("n.provider_id = ?"), params.push(f.providerId);
  if (f.minRam !== undefined)
    where.push("n.status = 'active' AND (MIN(n.reported_ram_gb, n.total_ram_gb) - COALESCE(h.ram,0)) >= ?"), params.push(f.minRam);
  if (f.minVram !== undefined)
    where.push("n.status = 'active' AND (MIN(n.reported_vram_gb, n.total_vram_gb) - COALESCE(h.vram,0)) >= ?"), params.push(f.minVram);
  const from = `FROM nodes n LEFT JOIN offers o ON o.node_id = n.id
    LEFT JOIN (SELECT node_id, SUM(ram_gb) AS ram, SUM(vram_gb) AS vram FROM contracts WHERE status IN ('pending','active') GROUP BY node_id) h ON h.node_id = n.id
    ${where.length ? "WHERE " + where.join(" AND ") : ""}`;
  const [rows, count] = await env.DB.batch([
    env.DB.prepare(
      `SELECT n.*, o.min_duration_sec, o.max_duration_sec, o.egress_price_micro, COALESCE(h.ram,0) AS held_ram, COALESCE(h.vram,0) AS held_vram ${from}
       ORDER BY n.created_at DESC, n.id LIMIT ? OFFSET ?`,
    ).bind(...params, limit, offset),
    env.DB.prepare(`SELECT COUNT(*) AS n ${from}`).bind(...params),
  ]);
  const nodesOut = (rows.results as Record<string, unknown>[]).map((r) =>
    nodeView(
      nodeFromRaw(r),
      {
        minDurationSec: r.min_duration_sec as number,
        maxDurationSec: r.max_duration_sec as number,
        egressPriceMicro: r.egress_price_micro as number,
      },
      r.held_ram as number,
      r.held_vram as number,
      {
        withEndpoint: viewer !== undefined && (viewer.role === "admin" || viewer.id === r.provider_id),
      },
    ),
  );
  return { nodes: nodesOut, total_count: (count.results[0] as { n: number }).n };
}
