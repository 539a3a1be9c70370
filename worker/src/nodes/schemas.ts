import { DEFAULT_MAX_DURATION_SEC, DEFAULT_MIN_DURATION_SEC } from "../domain/offer";
import { z } from "@hono/zod-openapi";
import { parseEndpoint } from "../domain/endpoint";
import { LeaseReportsField } from "../leases/reports-schema";
import { NodeType } from "../views/nodes";

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
/** The one region-name rule, used wherever a region is accepted (body, path, query). */
export const REGION_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/;
export const REGION_RULE = "lowercase letters, digits and dashes, starting with a letter or digit, at most 64 characters (e.g. eu-west)";
export const RegionName = z
  .string()
  .regex(REGION_PATTERN, `must be ${REGION_RULE}`)
  .openapi({
    pattern: REGION_PATTERN.source,
    description: `A region name: ${REGION_RULE}. A region exists once a node registered in it.`,
    example: "eu-west",
  });
const region = RegionName;
/**
 * Latency in ms, a decimal with at most 3 places (the seed's DECIMAL(8,3): 0.8 is the headline
 * "<1 ms"). Checked on the value's own decimal representation, so 0.1 passes and 0.0001 does not.
 */
export const LatencyMs = z
  .number()
  .min(0)
  .max(60_000)
  .refine((v) => Number.isFinite(v) && Math.abs(Math.round(v * 1000) - v * 1000) < 1e-6, {
    message: "must be a number with at most 3 decimals",
  })
  .openapi({ description: "Milliseconds, a decimal with at most 3 places", example: 0.8 });

/** Nesting depth of a JSON value, measured without recursion (so no input can exhaust the stack). */
function jsonDepth(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (d + 1 > max) max = d + 1;
    if (max > METADATA_MAX_DEPTH) return max;
    for (const child of Object.values(v as object)) stack.push([child, d + 1]);
  }
  return max;
}
export const METADATA_MAX_BYTES = 16 * 1024;
export const METADATA_MAX_DEPTH = 8;
/** The owner's free-form notes on a node: a JSON object of at most 16 KiB, nested at most 8 deep. */
const Metadata = z
  .record(z.string(), z.unknown())
  .superRefine((m, ctx) => {
    if (jsonDepth(m) > METADATA_MAX_DEPTH)
      ctx.addIssue({ code: "custom", message: `must be nested at most ${METADATA_MAX_DEPTH} levels deep` });
    else if (new TextEncoder().encode(JSON.stringify(m)).byteLength > METADATA_MAX_BYTES)
      ctx.addIssue({ code: "custom", message: `must be at most ${METADATA_MAX_BYTES} bytes as JSON` });
  })
  .openapi({
    description:
      "Free-form JSON object for the owner (hardware, notes): at most 16 KiB as JSON, nested at most 8 levels. Shown only to the owner and admins.",
  });

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
    base_latency_ms: LatencyMs,
    price_per_gb_sec: price,
    metadata: Metadata.optional(),
    min_duration_sec: z.number().int().min(1).max(31_536_000).default(DEFAULT_MIN_DURATION_SEC),
    max_duration_sec: z.number().int().min(1).max(31_536_000).default(DEFAULT_MAX_DURATION_SEC),
    egress_price_per_gb: z.number().min(0).max(1000).default(0).openapi({ description: "USD per GB of egress, at most 6 decimals" }),
    endpoint: endpoint.optional(),
  })
  .refine((b) => b.min_duration_sec <= b.max_duration_sec, { path: ["min_duration_sec"], message: "must be <= max_duration_sec" })
  .refine((b) => (b.latitude === undefined) === (b.longitude === undefined), {
    path: ["latitude"],
    message: "latitude and longitude go together",
  })
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
    endpoint: endpoint
      .optional()
      .openapi({ description: "The node's lease endpoint; sent in every heartbeat so a changed address is picked up" }),
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
    base_latency_ms: LatencyMs.optional(),
    latitude: lat.optional(),
    longitude: lng.optional(),
    metadata: Metadata.optional(),
    status: z.enum(["active", "maintenance"]).optional(),
    endpoint: endpoint.optional(),
  })
  .openapi("UpdateNode");

export const ListNodesQuery = z.object({
  node_type: NodeType.optional(),
  region: RegionName.optional(),
  min_ram: z.coerce.number().int().min(0).optional(),
  min_vram: z.coerce.number().int().min(0).optional(),
  status: z.enum(["active", "maintenance", "offline"]).optional(),
  mine: z.enum(["true", "false"]).optional().openapi({ description: "Only the caller's own nodes (providers)" }),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});
