/**
 * The nodes table: the reads and guarded writes the use cases need, under intent names. Imports
 * only db/schema and domain/ (lib/ imports db/schema, so nothing here may import lib/ at run time).
 */
import { eq } from "drizzle-orm";
import type { NodeSnapshot } from "../domain/capacity";
import { createDb, toD1 } from "./client";
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

/** A new node and its offer in one batch; the region's map position starts at its first node and stays put. */
export async function insertNodeWithOffer(d1: D1Database, node: NodeRow, offer: OfferRow): Promise<void> {
  const db = createDb(d1);
  await d1.batch([
    toD1(d1, db.insert(nodes).values(node)),
    toD1(d1, db.insert(offers).values(offer)),
    d1
      .prepare(`INSERT OR IGNORE INTO clusters (region, name, center_lat, center_lng, created_at) VALUES (?, NULL, ?, ?, ?)`)
      .bind(node.region, node.latitude, node.longitude, node.createdAt),
  ]);
}

/** Heartbeats received and contracts failed on the node since `since` (its reliability window). */
export async function reliabilityCountsSince(d1: D1Database, id: string, since: number): Promise<{ received: number; failed: number }> {
  const [received, failed] = await d1.batch<{ n: number }>([
    d1.prepare(`SELECT COUNT(*) AS n FROM node_metrics WHERE node_id = ? AND recorded_at > ?`).bind(id, since),
    d1.prepare(`SELECT COUNT(*) AS n FROM contracts WHERE node_id = ? AND status = 'failed' AND ended_at > ?`).bind(id, since),
  ]);
  return { received: received.results[0]?.n ?? 0, failed: failed.results[0]?.n ?? 0 };
}

export interface HeartbeatWrite {
  availableRamGb: number;
  availableVramGb: number;
  bandwidthMbps: number | null;
  latitude: number | null;
  longitude: number | null;
  cpuUsagePct: number | null;
  gpuUsagePct: number | null;
  temperatureC: number | null;
  uptimeScore: number;
}

/**
 * Stores a heartbeat and its metrics row, unless the node is retired or its last heartbeat is less
 * than `minIntervalMs` old: the rate limit and the write are one conditional statement, so two racing
 * heartbeats cannot both pass. False when it was refused.
 */
export async function recordHeartbeatIfDue(
  d1: D1Database,
  id: string,
  hb: HeartbeatWrite,
  now: number,
  minIntervalMs: number,
): Promise<boolean> {
  const results = await d1.batch([
    d1
      .prepare(
        `UPDATE nodes SET last_heartbeat_at = ?1, reported_ram_gb = ?2, reported_vram_gb = ?3, bandwidth_mbps = COALESCE(?4, bandwidth_mbps),
         latitude = COALESCE(?5, latitude), longitude = COALESCE(?6, longitude),
         status = CASE WHEN status = 'offline' THEN 'active' ELSE status END,
         heartbeats_received = heartbeats_received + 1, uptime_score = ?7, updated_at = ?1
       WHERE id = ?8 AND retired_at IS NULL AND (last_heartbeat_at IS NULL OR heartbeats_received = 0 OR last_heartbeat_at <= ?1 - ?9)`,
      )
      .bind(now, hb.availableRamGb, hb.availableVramGb, hb.bandwidthMbps, hb.latitude, hb.longitude, hb.uptimeScore, id, minIntervalMs),
    d1
      .prepare(
        `INSERT INTO node_metrics (node_id, recorded_at, available_ram_gb, available_vram_gb, cpu_usage_pct, gpu_usage_pct, temperature_c, bandwidth_mbps)
       SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE EXISTS (SELECT 1 FROM nodes WHERE id = ?1 AND last_heartbeat_at = ?2)`,
      )
      .bind(id, now, hb.availableRamGb, hb.availableVramGb, hb.cpuUsagePct, hb.gpuUsagePct, hb.temperatureC, hb.bandwidthMbps),
  ]);
  return results[0].meta.changes !== 0;
}

export async function setEndpointIfChanged(d1: D1Database, id: string, endpoint: string | null): Promise<void> {
  await d1.prepare(`UPDATE nodes SET endpoint = ?1 WHERE id = ?2 AND endpoint IS NOT ?1`).bind(endpoint, id).run();
}

export async function patchNode(d1: D1Database, id: string, patch: Partial<NodeRow>): Promise<NodeRow> {
  return createDb(d1).update(nodes).set(patch).where(eq(nodes.id, id)).returning().get();
}

/** Offline for good; the first retirement time stays. */
export async function retireNode(d1: D1Database, id: string, now: number): Promise<void> {
  await d1
    .prepare(`UPDATE nodes SET status = 'offline', retired_at = COALESCE(retired_at, ?1), updated_at = ?1 WHERE id = ?2`)
    .bind(now, id)
    .run();
}

/** What the push channel needs to admit a node's agent. */
export async function nodeAccess(
  d1: D1Database,
  id: string,
): Promise<{ id: string; provider_id: string; region: string; status: string } | null> {
  return d1
    .prepare(`SELECT id, provider_id, region, status FROM nodes WHERE id = ?`)
    .bind(id)
    .first<{ id: string; provider_id: string; region: string; status: string }>();
}

/** The node's last metrics row, if any. */
export async function latestMetricsOf(d1: D1Database, id: string): Promise<Record<string, number | null> | null> {
  return d1
    .prepare(`SELECT * FROM node_metrics WHERE node_id = ? ORDER BY recorded_at DESC LIMIT 1`)
    .bind(id)
    .first<Record<string, number | null>>();
}

/** The provider's earnings from this node: in total and since `since`, in micro-USD. */
export async function earningsOfNode(d1: D1Database, id: string, since: number): Promise<{ total: number; recent: number } | null> {
  return d1
    .prepare(
      `SELECT COALESCE(SUM(l.amount_micro),0) AS total, COALESCE(SUM(CASE WHEN l.created_at > ? THEN l.amount_micro ELSE 0 END),0) AS recent
       FROM ledger_entries l JOIN contracts k ON k.id = l.contract_id WHERE l.kind = 'provider_earning' AND k.node_id = ?`,
    )
    .bind(since, id)
    .first<{ total: number; recent: number }>();
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

/** A page of nodes with their offers and what their open contracts hold, in one query, newest first. */
export async function pageOfNodes(d1: D1Database, f: NodeQuery, limit: number, offset: number) {
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
  const [rows, count] = await d1.batch([
    d1
      .prepare(
        `SELECT n.*, o.min_duration_sec, o.max_duration_sec, o.egress_price_micro, COALESCE(h.ram,0) AS held_ram, COALESCE(h.vram,0) AS held_vram ${from}
       ORDER BY n.created_at DESC, n.id LIMIT ? OFFSET ?`,
      )
      .bind(...params, limit, offset),
    d1.prepare(`SELECT COUNT(*) AS n ${from}`).bind(...params),
  ]);
  const out = (rows.results as Record<string, unknown>[]).map((r) => ({
    node: nodeFromRaw(r),
    offer: {
      minDurationSec: r.min_duration_sec as number,
      maxDurationSec: r.max_duration_sec as number,
      egressPriceMicro: r.egress_price_micro as number,
    },
    heldRam: r.held_ram as number,
    heldVram: r.held_vram as number,
  }));
  return { rows: out, total: (count.results[0] as { n: number }).n };
}

/** How many of a region's nodes that are not offline last beat before `heartbeatBefore`. */
export async function lateNodeCountInRegion(d1: D1Database, region: string, heartbeatBefore: number): Promise<number> {
  const late = await d1
    .prepare(`SELECT COUNT(*) AS n FROM nodes WHERE region = ? AND status != 'offline' AND last_heartbeat_at < ?`)
    .bind(region, heartbeatBefore)
    .first<{ n: number }>();
  return late?.n ?? 0;
}
