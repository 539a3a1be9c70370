import { createRoute, z } from "@hono/zod-openapi";
import { caller, requireAuth } from "../lib/auth";
import { errors, jsonBody, jsonContent, security } from "../lib/openapi";
import { BrowseQuery, MatchBody, MatchSchema, OfferSchema } from "./schemas";

export const tags = ["Marketplace"];

export const browse = createRoute({
  method: "get",
  path: "/api/marketplace",
  tags,
  summary: "Browse offers: active nodes with free capacity (public)",
  description:
    "Without `region`, every region is searched. `distance_km` is the haversine distance from client_lat/client_lng (null without them). Order: nearest first when coordinates are given (then price, then node id), else cheapest first (then node id). min_ram_gb/min_vram_gb compare available capacity.",
  request: { query: BrowseQuery },
  responses: {
    200: jsonContent(z.object({ offers: z.array(OfferSchema), total_count: z.number().int() }), "A page of offers"),
    ...errors(),
  },
});

export const request = createRoute({
  method: "post",
  path: "/api/marketplace/request",
  tags,
  security: [...security.bearer],
  middleware: [requireAuth()] as const,
  summary: "Rank the nodes that can hold a request (the reference match score)",
  description: `Hard filters: available RAM and VRAM cover the request; price ≤ max_price_per_gb_sec; status active; uptime ≥ min_uptime_score; distance ≤ max_distance_km (only where both sides have coordinates); region when given.
Score = proximity + price + reliability + capacity + node_type, where
- proximity = max(0, 100 − distance_km / 10) (haversine, R = 6371 km), ×3 when prefer_local; 0 without coordinates on either side;
- price = (1 − price / max_price) × 50, max_price being max_price_per_gb_sec or else the highest price among the candidates (50 when that is 0);
- reliability = uptime_score × 0.5;
- capacity = min(30, (available_ram + available_vram) / (ram_gb + vram_gb) × 10);
- node_type = 20 for mist_node, else 0.
Ties: lower price, then lower distance, then node id. Client coordinates come from the body, else the caller's profile. estimated_latency_ms = base_latency_ms + round(distance_km / 100). request_id identifies this answer in logs.`,
  request: { body: jsonBody(MatchBody) },
  responses: {
    200: jsonContent(
      z.object({ request_id: z.uuid(), matches: z.array(MatchSchema), total_candidates: z.number().int() }),
      "The best matches, best first",
    ),
    ...errors(401),
  },
});
