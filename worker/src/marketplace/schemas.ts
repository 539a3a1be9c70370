import { z } from "@hono/zod-openapi";
import { RegionName } from "../nodes/schemas";
import { NodeType } from "../views/nodes";

const lat = z.coerce.number().min(-90).max(90);
const lng = z.coerce.number().min(-180).max(180);

export const BrowseQuery = z
  .object({
    node_type: NodeType.optional(),
    region: RegionName.optional().openapi({
      description: "Only this region. A well-formed name of a region with no nodes gives an empty list.",
    }),
    min_ram_gb: z.coerce.number().int().min(0).optional(),
    min_vram_gb: z.coerce.number().int().min(0).optional(),
    max_price_per_gb_sec: z.coerce.number().min(0).max(1).optional(),
    min_uptime_score: z.coerce.number().min(0).max(100).optional(),
    client_lat: lat.optional(),
    client_lng: lng.optional(),
    max_distance_km: z.coerce.number().min(0).max(40_000).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    offset: z.coerce.number().int().min(0).default(0),
  })
  .refine((q) => (q.client_lat === undefined) === (q.client_lng === undefined), {
    path: ["client_lat"],
    message: "client_lat and client_lng go together",
  });

export const OfferSchema = z
  .object({
    node_id: z.uuid(),
    node_name: z.string(),
    node_type: NodeType,
    region: z.string(),
    available_ram_gb: z.number().int(),
    available_vram_gb: z.number().int(),
    price_per_gb_sec: z.number(),
    uptime_score: z.number(),
    distance_km: z.number().nullable(),
    estimated_latency_ms: z.number().openapi({ description: "base_latency_ms + round(distance_km / 100), up to 3 decimals" }),
  })
  .openapi("Offer");

export const MatchBody = z
  .object({
    ram_gb: z.number().int().min(0).max(1_000_000),
    vram_gb: z.number().int().min(0).max(1_000_000),
    duration_sec: z.number().int().min(1).max(31_536_000),
    max_price_per_gb_sec: z.number().min(0).max(1).optional(),
    prefer_local: z.boolean().default(true),
    max_distance_km: z.number().min(0).max(40_000).optional(),
    min_uptime_score: z.number().min(0).max(100).optional(),
    region: RegionName.optional().openapi({
      description: "Only this region. A well-formed name of a region with no nodes matches nothing.",
    }),
    client_lat: z.number().min(-90).max(90).optional(),
    client_lng: z.number().min(-180).max(180).optional(),
    limit: z.number().int().min(1).max(100).default(10),
  })
  .refine((b) => b.ram_gb + b.vram_gb > 0, { path: ["ram_gb"], message: "ram_gb + vram_gb must be > 0" })
  .refine((b) => (b.client_lat === undefined) === (b.client_lng === undefined), {
    path: ["client_lat"],
    message: "client_lat and client_lng go together",
  })
  .openapi("MatchRequest");

export const MatchSchema = z
  .object({
    node_id: z.uuid(),
    node_name: z.string(),
    node_type: NodeType,
    region: z.string(),
    match_score: z.number(),
    distance_km: z.number().nullable(),
    estimated_cost: z.number().openapi({ description: "USD: (ram_gb + vram_gb) × duration_sec × price, rounded up to the micro-USD" }),
    estimated_latency_ms: z.number().openapi({ description: "base_latency_ms + round(distance_km / 100), up to 3 decimals" }),
    price_per_gb_sec: z.number(),
    available_ram_gb: z.number().int(),
    available_vram_gb: z.number().int(),
    uptime_score: z.number(),
    score_breakdown: z.object({
      proximity: z.number(),
      price: z.number(),
      reliability: z.number(),
      capacity: z.number(),
      node_type: z.number(),
    }),
  })
  .openapi("Match");
