import { durationBounds } from "../domain/offer";
import { eq } from "drizzle-orm";
import type { Env } from "../env";
import { nodes, offers, type NodeRow, type OfferRow } from "../db/schema";
import type { Db } from "../db/client";
import { nanoToPrice, microToUsd } from "../domain/money";
import { iso } from "../lib/time";
import { notFound, forbidden } from "../lib/errors";
import type { AuthUser } from "../lib/auth";
import type { NodeSnapshot } from "../domain/capacity";
import { availableOf } from "../domain/capacity";
import { regionStub } from "../region/client";

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

/** `withEndpoint`: the caller is the node's owner or an admin (the endpoint is never public). */
export function nodeView(
  n: NodeRow,
  offer: Pick<OfferRow, "minDurationSec" | "maxDurationSec" | "egressPriceMicro"> | null,
  heldRam: number,
  heldVram: number,
  opts: { withEndpoint?: boolean } = {},
) {
  const avail = availableOf(n, heldRam, heldVram);
  let metadata: Record<string, unknown> | null = null;
  if (n.metadata) {
    try {
      metadata = JSON.parse(n.metadata);
    } catch {
      metadata = null;
    }
  }
  return {
    id: n.id,
    provider_id: n.providerId,
    name: n.name,
    node_type: n.nodeType,
    region: n.region,
    latitude: n.latitude,
    longitude: n.longitude,
    total_ram_gb: n.totalRamGb,
    total_vram_gb: n.totalVramGb,
    available_ram_gb: n.status === "active" ? avail.availableRamGb : 0,
    available_vram_gb: n.status === "active" ? avail.availableVramGb : 0,
    reported_ram_gb: n.reportedRamGb,
    reported_vram_gb: n.reportedVramGb,
    held_ram_gb: heldRam,
    held_vram_gb: heldVram,
    bandwidth_mbps: n.bandwidthMbps,
    base_latency_ms: n.baseLatencyMs,
    price_per_gb_sec: nanoToPrice(n.priceNano),
    min_duration_sec: durationBounds(offer).min,
    max_duration_sec: durationBounds(offer).max,
    egress_price_per_gb: microToUsd(offer?.egressPriceMicro ?? 0),
    status: n.status,
    uptime_score: n.uptimeScore,
    metadata,
    ...(opts.withEndpoint ? { endpoint: n.endpoint } : {}),
    last_heartbeat_at: iso(n.lastHeartbeatAt),
    last_heartbeat: iso(n.lastHeartbeatAt),
    created_at: iso(n.createdAt)!,
    updated_at: iso(n.updatedAt)!,
  };
}

export type NodeView = ReturnType<typeof nodeView>;

/**
 * What anyone may see of a node that is not theirs: an explicit allow-list, so a field added to
 * nodeView later (the lease `endpoint`, say) stays hidden from the public until it is listed here.
 * Not public: provider_id (who owns which machine), metadata (the owner's notes), the reported and
 * held figures (renters' activity on the node), updated_at, and anything not named below.
 */
export const PUBLIC_NODE_FIELDS = [
  "id",
  "name",
  "node_type",
  "region",
  "latitude",
  "longitude",
  "total_ram_gb",
  "total_vram_gb",
  "available_ram_gb",
  "available_vram_gb",
  "bandwidth_mbps",
  "base_latency_ms",
  "price_per_gb_sec",
  "min_duration_sec",
  "max_duration_sec",
  "egress_price_per_gb",
  "status",
  "uptime_score",
  "last_heartbeat_at",
  "last_heartbeat",
  "created_at",
] as const satisfies readonly (keyof NodeView)[];

export type PublicNodeView = Pick<NodeView, (typeof PUBLIC_NODE_FIELDS)[number]>;

export function publicNodeView(v: NodeView): PublicNodeView {
  const out: Record<string, unknown> = {};
  for (const k of PUBLIC_NODE_FIELDS) out[k] = v[k];
  return out as PublicNodeView;
}

/** The node's owner and admins see everything; anyone else (or nobody signed in) the public view. */
export function nodeViewFor(viewer: AuthUser | undefined, v: NodeView): NodeView | PublicNodeView {
  return viewer && (viewer.role === "admin" || viewer.id === v.provider_id) ? v : publicNodeView(v);
}

export async function loadNode(db: Db, id: string) {
  const row = await db.select().from(nodes).leftJoin(offers, eq(offers.nodeId, nodes.id)).where(eq(nodes.id, id)).get();
  if (!row) throw notFound("node");
  return { node: row.nodes, offer: row.offers };
}

export async function heldOf(env: Env, nodeId: string) {
  const r = await env.DB.prepare(
    `SELECT COALESCE(SUM(ram_gb),0) AS ram, COALESCE(SUM(vram_gb),0) AS vram FROM contracts WHERE node_id = ? AND status IN ('pending','active')`,
  )
    .bind(nodeId)
    .first<{ ram: number; vram: number }>();
  return { ram: r?.ram ?? 0, vram: r?.vram ?? 0 };
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
