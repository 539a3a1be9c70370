/**
 * The nodes table: the reads and guarded writes the use cases need, under intent names. Imports
 * only db/schema and domain/ (lib/ imports db/schema, so nothing here may import lib/ at run time).
 */
import { eq } from "drizzle-orm";
import type { NodeSnapshot } from "../domain/capacity";
import { createDb } from "./client";
import { nodes, offers, type NodeRow, type OfferRow } from "./schema";

export function snapshotOf(n: NodeRow): NodeSnapshot {
  return {
    id: n.id,
    providerId: n.providerId,
    name: n.name,
    nodeType: n.nodeType,
    region: n.region,
    latitude: n.latitude,
    longitude: n.longitude,
    totalRamGb: n.totalRamGb,
    totalVramGb: n.totalVramGb,
    reportedRamGb: n.reportedRamGb,
    reportedVramGb: n.reportedVramGb,
    priceNano: n.priceNano,
    uptimeScore: n.uptimeScore,
    baseLatencyMs: n.baseLatencyMs,
    bandwidthMbps: n.bandwidthMbps,
    status: n.status,
    lastHeartbeatAt: n.lastHeartbeatAt,
    createdAt: n.createdAt,
  };
}

/** A raw `nodes` row (snake_case) as the drizzle row type. */
export function nodeFromRaw(r: Record<string, unknown>): NodeRow {
  return {
    id: r.id as string,
    providerId: r.provider_id as string,
    name: r.name as string,
    nodeType: r.node_type as NodeRow["nodeType"],
    region: r.region as string,
    latitude: r.latitude as number | null,
    longitude: r.longitude as number | null,
    totalRamGb: r.total_ram_gb as number,
    totalVramGb: r.total_vram_gb as number,
    reportedRamGb: r.reported_ram_gb as number,
    reportedVramGb: r.reported_vram_gb as number,
    bandwidthMbps: r.bandwidth_mbps as number,
    baseLatencyMs: r.base_latency_ms as number,
    priceNano: r.price_nano as number,
    status: r.status as NodeRow["status"],
    uptimeScore: r.uptime_score as number,
    heartbeatsReceived: r.heartbeats_received as number,
    failedContracts: r.failed_contracts as number,
    metadata: r.metadata as string | null,
    endpoint: (r.endpoint as string | null | undefined) ?? null,
    lastHeartbeatAt: r.last_heartbeat_at as number | null,
    createdAt: r.created_at as number,
    updatedAt: r.updated_at as number,
    retiredAt: (r.retired_at as number | null | undefined) ?? null,
  };
}

/** A node and its offer (null when it has none). */
export async function findNode(d1: D1Database, id: string): Promise<{ node: NodeRow; offer: OfferRow | null } | undefined> {
  const row = await createDb(d1).select().from(nodes).leftJoin(offers, eq(offers.nodeId, nodes.id)).where(eq(nodes.id, id)).get();
  return row ? { node: row.nodes, offer: row.offers } : undefined;
}

/** The node's lease endpoint (`host:port`), null when it has published none or does not exist. */
export async function nodeEndpoint(d1: D1Database, id: string): Promise<string | null> {
  const node = await d1.prepare(`SELECT endpoint FROM nodes WHERE id = ?`).bind(id).first<{ endpoint: string | null }>();
  return node?.endpoint ?? null;
}

/** Whether a node may still take work: null when it does not exist. */
export async function nodeLiveness(d1: D1Database, id: string): Promise<{ status: string; retiredAt: number | null } | null> {
  const n = await d1
    .prepare(`SELECT status, retired_at FROM nodes WHERE id = ?`)
    .bind(id)
    .first<{ status: string; retired_at: number | null }>();
  return n ? { status: n.status, retiredAt: n.retired_at } : null;
}

export async function nodePosition(d1: D1Database, id: string): Promise<{ latitude: number | null; longitude: number | null } | null> {
  return d1
    .prepare(`SELECT latitude, longitude FROM nodes WHERE id = ?`)
    .bind(id)
    .first<{ latitude: number | null; longitude: number | null }>();
}

/** One more contract failed on this node (its reliability counts it). */
export async function countFailedContract(d1: D1Database, id: string): Promise<void> {
  await d1.prepare(`UPDATE nodes SET failed_contracts = failed_contracts + 1 WHERE id = ?`).bind(id).run();
}

export async function nodesInRegion(d1: D1Database, region: string): Promise<NodeRow[]> {
  const rows = await d1.prepare(`SELECT * FROM nodes WHERE region = ?`).bind(region).all<Record<string, unknown>>();
  return rows.results.map(nodeFromRaw);
}

/**
 * Nodes of the region silent since before `silentBefore` go offline. The condition on
 * last_heartbeat_at keeps a heartbeat that lands meanwhile from being overruled. Returns them.
 */
export async function markSilentOffline(d1: D1Database, region: string, now: number, silentBefore: number): Promise<NodeRow[]> {
  const silent = await d1
    .prepare(
      `UPDATE nodes SET status = 'offline', updated_at = ?1 WHERE region = ?2 AND status != 'offline' AND last_heartbeat_at < ?3 RETURNING *`,
    )
    .bind(now, region, silentBefore)
    .all<Record<string, unknown>>();
  return silent.results.map(nodeFromRaw);
}
