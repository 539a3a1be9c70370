import { eq, sql } from "drizzle-orm";
import type { Env } from "../env";
import { nodes, offers, type NodeRow, type OfferRow } from "../db/schema";
import type { Db } from "../db/client";
import { nanoToPrice, microToUsd } from "../domain/money";
import { iso } from "../lib/time";
import { notFound, forbidden } from "../lib/errors";
import type { AuthUser } from "../lib/auth";
import type { NodeSnapshot } from "../region/types";
import { availableOf } from "../region/types";
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

/** Held RAM/VRAM per node from D1 (pending and active contracts): the same rule the region DO applies. */
export const heldSql = sql`(SELECT COALESCE(SUM(c.ram_gb),0) AS ram, COALESCE(SUM(c.vram_gb),0) AS vram, c.node_id AS node_id FROM contracts c WHERE c.status IN ('pending','active') GROUP BY c.node_id)`;

export function nodeView(n: NodeRow, offer: Pick<OfferRow, "minDurationSec" | "maxDurationSec" | "egressPriceMicro"> | null, heldRam: number, heldVram: number) {
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
    min_duration_sec: offer?.minDurationSec ?? 60,
    max_duration_sec: offer?.maxDurationSec ?? 86_400,
    egress_price_per_gb: microToUsd(offer?.egressPriceMicro ?? 0),
    status: n.status,
    uptime_score: n.uptimeScore,
    metadata,
    last_heartbeat_at: iso(n.lastHeartbeatAt),
    created_at: iso(n.createdAt)!,
    updated_at: iso(n.updatedAt)!,
  };
}

export async function loadNode(db: Db, id: string) {
  const row = await db.select().from(nodes).leftJoin(offers, eq(offers.nodeId, nodes.id)).where(eq(nodes.id, id)).get();
  if (!row) throw notFound("node");
  return { node: row.nodes, offer: row.offers };
}

export async function heldOf(env: Env, nodeId: string) {
  const r = await env.DB.prepare(`SELECT COALESCE(SUM(ram_gb),0) AS ram, COALESCE(SUM(vram_gb),0) AS vram FROM contracts WHERE node_id = ? AND status IN ('pending','active')`)
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
