import { z } from "@hono/zod-openapi";
import { parseEndpoint } from "../domain/endpoint";
import { LeaseReportsField } from "../leases/reports-schema";

export const NodeType = z.enum(["datacenter", "edge_cluster", "mist_node"]);
const lat = z.number().min(-90).max(90);
const lng = z.number().min(-180).max(180);
const gb = z.number().int().min(0).max(1_000_000);
/** `host:port` of the node's lease server. */
const endpoint = z
  .string()
  .trim()
  .max(300)
  .refine((v) => parseEndpoint(v) !== null, { message: "must be host:port (a hostname, an IPv4 address or [IPv6], and a port 1..65535)" })
  .openapi({
    example: "203.0.113.7:7379",
    description:
      "Where the node's agent serves its leases over the Redis protocol: `host:port` (host: a hostname, an IPv4 address or `[IPv6]`; port 1..65535). Shown only to the node's owner and admins; renters receive it inside their contract's lease.",
  });
const region = z.string().trim().min(1).max(64).regex(/^[a-z0-9][a-z0-9-]*$/, "lowercase letters, digits and dashes, e.g. eu-west");

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
    base_latency_ms: z.number().int(),
    price_per_gb_sec: z.number(),
    min_duration_sec: z.number().int(),
    max_duration_sec: z.number().int(),
    egress_price_per_gb: z.number(),
    status: z.enum(["active", "maintenance", "offline"]),
    uptime_score: z.number(),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    endpoint: z.string().nullable().optional().openapi({ description: "The node's lease endpoint (`host:port`); present only for the node's owner and admins" }),
    last_heartbeat_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Node");

const price = z.number().min(0).max(1).openapi({ description: "USD per GB-second, at most 9 decimals", example: 0.0000008 });

export const RegisterNodeBody = z
  .object({
    node_type: NodeType,
    name: z.string().trim().min(1).max(100),
    region,
    latitude: lat.optional(),
    longitude: lng.optional(),
    total_ram_gb: gb,
    total_vram_gb: gb,
    bandwidth_mbps: z.number().int().min(0).max(10_000_000),
    base_latency_ms: z.number().int().min(0).max(60_000),
    price_per_gb_sec: price,
    metadata: z.record(z.string(), z.unknown()).optional(),
    min_duration_sec: z.number().int().min(1).max(31_536_000).default(60),
    max_duration_sec: z.number().int().min(1).max(31_536_000).default(86_400),
    egress_price_per_gb: z.number().min(0).max(1000).default(0).openapi({ description: "USD per GB of egress, at most 6 decimals" }),
    endpoint: endpoint.optional(),
  })
  .refine((b) => b.min_duration_sec <= b.max_duration_sec, { path: ["min_duration_sec"], message: "must be <= max_duration_sec" })
  .refine((b) => (b.latitude === undefined) === (b.longitude === undefined), { path: ["latitude"], message: "latitude and longitude go together" })
  .openapi("RegisterNode");

export const HeartbeatBody = z
  .object({
    available_ram_gb: gb,
    available_vram_gb: gb,
    cpu_usage_pct: z.number().min(0).max(100).optional(),
    gpu_usage_pct: z.number().min(0).max(100).optional(),
    temperature_c: z.number().min(-50).max(200).optional(),
    bandwidth_mbps: z.number().int().min(0).max(10_000_000).optional(),
    latitude: lat.optional(),
    longitude: lng.optional(),
    rejected_contracts: z.array(z.uuid()).max(1000).optional(),
    endpoint: endpoint.optional().openapi({ description: "The node's lease endpoint; sent in every heartbeat so a changed address is picked up" }),
    lease_reports: LeaseReportsField.optional(),
  })
  .openapi("Heartbeat");

export const LeaseSchema = z
  .object({
    id: z.uuid(),
    ram_gb: z.number().int(),
    vram_gb: z.number().int(),
    end_time: z.string().nullable(),
    status: z.enum(["pending", "active"]),
  })
  .openapi("Lease");

export const HeartbeatResponse = z
  .object({
    status: z.enum(["active", "maintenance", "offline"]),
    next_heartbeat_sec: z.number().int(),
    contracts: z.array(LeaseSchema),
  })
  .openapi("HeartbeatResponse");

export const UpdateNodeBody = z
  .strictObject({
    name: z.string().trim().min(1).max(100).optional(),
    price_per_gb_sec: price.optional(),
    bandwidth_mbps: z.number().int().min(0).max(10_000_000).optional(),
    base_latency_ms: z.number().int().min(0).max(60_000).optional(),
    latitude: lat.optional(),
    longitude: lng.optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    status: z.enum(["active", "maintenance"]).optional(),
    endpoint: endpoint.optional(),
  })
  .openapi("UpdateNode");

export const ListNodesQuery = z.object({
  node_type: NodeType.optional(),
  region: z.string().max(64).optional(),
  min_ram: z.coerce.number().int().min(0).optional(),
  min_vram: z.coerce.number().int().min(0).optional(),
  status: z.enum(["active", "maintenance", "offline"]).optional(),
  mine: z
    .enum(["true", "false"])
    .optional()
    .openapi({ description: "Only the caller's own nodes (providers)" }),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});
