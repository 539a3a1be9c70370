/**
 * A node as the API shows it, shared by every resource that answers with one (nodes, contracts,
 * clusters): the view built from a row, the public allow-list and their OpenAPI schemas. Below the
 * resource folders, so a contract can show its node without the contracts folder importing nodes.
 */
import { z } from "@hono/zod-openapi";
import type { AuthUser } from "../lib/auth";
import type { NodeRow, OfferRow } from "../db/schema";
import { availableOf } from "../domain/capacity";
import { microToUsd, nanoToPrice } from "../domain/money";
import { durationBounds } from "../domain/offer";
import { iso } from "../lib/time";

export const NodeType = z.enum(["datacenter", "edge_cluster", "mist_node"]);

export const NodeSchema = z
  .object({
    id: z.uuid(),
    provider_id: z.uuid(),
    name: z.string(),
    node_type: NodeType,
    region: z.string(),
    latitude: z.number().nullable(),
    longitude: z.number().nullable(),
    total_ram_gb: z.number().int(),
    total_vram_gb: z.number().int(),
    available_ram_gb: z.number().int().openapi({ description: "min(reported free, total) − held by pending/active contracts" }),
    available_vram_gb: z.number().int(),
    reported_ram_gb: z.number().int().openapi({ description: "Free RAM in the node's last heartbeat" }),
    reported_vram_gb: z.number().int(),
    held_ram_gb: z.number().int().openapi({ description: "RAM held by pending and active contracts" }),
    held_vram_gb: z.number().int(),
    bandwidth_mbps: z.number().int(),
    base_latency_ms: z.number().openapi({ description: "Milliseconds, up to 3 decimals", example: 0.8 }),
    price_per_gb_sec: z.number(),
    min_duration_sec: z.number().int(),
    max_duration_sec: z.number().int(),
    egress_price_per_gb: z.number(),
    status: z.enum(["active", "maintenance", "offline"]),
    uptime_score: z.number(),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    endpoint: z
      .string()
      .nullable()
      .optional()
      .openapi({ description: "The node's lease endpoint (`host:port`); present only for the node's owner and admins" }),
    last_heartbeat_at: z.string().nullable(),
    last_heartbeat: z.string().nullable().openapi({
      description: "The seed's name for last_heartbeat_at (the same value): when the node last sent a heartbeat (or registered)",
    }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Node");

/** The view of a node for anyone but its owner and admins (PUBLIC_NODE_FIELDS below). */
export const PublicNodeSchema = NodeSchema.pick({
  id: true,
  name: true,
  node_type: true,
  region: true,
  latitude: true,
  longitude: true,
  total_ram_gb: true,
  total_vram_gb: true,
  available_ram_gb: true,
  available_vram_gb: true,
  bandwidth_mbps: true,
  base_latency_ms: true,
  price_per_gb_sec: true,
  min_duration_sec: true,
  max_duration_sec: true,
  egress_price_per_gb: true,
  status: true,
  uptime_score: true,
  last_heartbeat_at: true,
  last_heartbeat: true,
  created_at: true,
}).openapi("PublicNode", {
  description:
    "A node as anyone but its owner and admins sees it: an allow-list that leaves out provider_id, metadata, the reported and held figures, and any field not listed (such as the lease endpoint).",
});

/** Either view: the full one for the node's owner and admins, the public one for everyone else. */
export const NodeViewSchema = z.union([NodeSchema, PublicNodeSchema]);

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
