import { createRoute, z } from "@hono/zod-openapi";
import type { Env } from "../env";
import { compareOffers, matchNodes, type Candidate, type Match, type MatchRequest, type Offer, type OfferFilter } from "../domain/matching";
import { nanoToPrice, priceToNano } from "../domain/money";
import { caller, requireAuth } from "../lib/auth";
import { invalid } from "../lib/errors";
import { createRouter, errors, jsonBody, jsonContent, security } from "../lib/openapi";
import { regionStub } from "../region/client";
import { knownRegions } from "../region/regions";
import { BrowseQuery, MatchBody, MatchSchema, OfferSchema } from "./schemas";

const tags = ["Marketplace"];

const browse = createRoute({
  method: "get",
  path: "/api/marketplace",
  tags,
  summary: "Browse offers: active nodes with free capacity (public)",
  description:
    "Without `region`, every region is searched. `distance_km` is the haversine distance from client_lat/client_lng (null without them). Order: nearest first when coordinates are given (then price, then node id), else cheapest first (then node id). min_ram_gb/min_vram_gb compare available capacity.",
  request: { query: BrowseQuery },
  responses: { 200: jsonContent(z.object({ offers: z.array(OfferSchema), total_count: z.number().int() }), "A page of offers"), ...errors() },
});

const request = createRoute({
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
    200: jsonContent(z.object({ request_id: z.uuid(), matches: z.array(MatchSchema), total_candidates: z.number().int() }), "The best matches, best first"),
    ...errors(401),
  },
});

function offerView(o: Offer) {
  return {
    node_id: o.node.id,
    node_name: o.node.name,
    node_type: o.node.nodeType,
    region: o.node.region,
    available_ram_gb: o.node.availableRamGb,
    available_vram_gb: o.node.availableVramGb,
    price_per_gb_sec: nanoToPrice(o.node.priceNano),
    uptime_score: o.node.uptimeScore,
    distance_km: o.distanceKm === null ? null : Math.round(o.distanceKm * 1000) / 1000,
    estimated_latency_ms: o.estimatedLatencyMs,
  };
}

function matchView(m: Match) {
  return {
    node_id: m.node.id,
    node_name: m.node.name,
    node_type: m.node.nodeType,
    region: m.node.region,
    match_score: m.score,
    distance_km: m.distanceKm,
    estimated_cost: m.estimatedCostMicro / 1e6,
    estimated_latency_ms: m.estimatedLatencyMs,
    price_per_gb_sec: nanoToPrice(m.node.priceNano),
    available_ram_gb: m.node.availableRamGb,
    available_vram_gb: m.node.availableVramGb,
    uptime_score: m.node.uptimeScore,
    score_breakdown: m.breakdown,
  };
}

function priceNano(field: string, v: number | undefined): number | null {
  if (v === undefined) return null;
  const n = priceToNano(v);
  if (n === null) throw invalid(field, "must have at most 9 decimal places");
  return n;
}

/** The regions to ask. An unknown region is asked nothing: no Durable Object is woken for it. */
async function regionsFor(env: Env, region: string | undefined) {
  const known = await knownRegions(env);
  return region ? known.filter((r) => r === region) : known;
}

/**
 * One region: its Durable Object ranks from memory. Several: each region DO filters, and the worker
 * ranks the union, so "the highest price among the candidates" means across all of them.
 */
export async function matchAcrossRegions(env: Env, req: MatchRequest): Promise<{ matches: Match[]; totalCandidates: number }> {
  const regions = await regionsFor(env, req.region ?? undefined);
  if (regions.length === 0) return { matches: [], totalCandidates: 0 };
  if (regions.length === 1) return regionStub(env, regions[0]).match(regions[0], req) as Promise<{ matches: Match[]; totalCandidates: number }>;
  const filter: OfferFilter = { minRamGb: req.ramGb, minVramGb: req.vramGb, maxPriceNano: req.maxPriceNano, minUptimeScore: req.minUptimeScore, clientLat: req.clientLat, clientLng: req.clientLng, maxDistanceKm: req.maxDistanceKm };
  const parts = await Promise.all(regions.map((r) => regionStub(env, r).browse(r, filter) as Promise<{ offers: Offer[] }>));
  const candidates: Candidate[] = parts.flatMap((p) => p.offers.map((o) => o.node));
  return matchNodes(candidates, req);
}

export const marketplaceRouter = createRouter()
  .openapi(browse, async (c) => {
    const q = c.req.valid("query");
    const filter: OfferFilter = {
      nodeType: q.node_type,
      region: q.region,
      minRamGb: q.min_ram_gb,
      minVramGb: q.min_vram_gb,
      maxPriceNano: priceNano("max_price_per_gb_sec", q.max_price_per_gb_sec),
      minUptimeScore: q.min_uptime_score,
      clientLat: q.client_lat,
      clientLng: q.client_lng,
      maxDistanceKm: q.max_distance_km,
    };
    const regions = await regionsFor(c.env, q.region);
    const page = { limit: q.offset + q.limit, offset: 0 };
    const parts = await Promise.all(regions.map((r) => regionStub(c.env, r).browse(r, filter, page) as Promise<{ offers: Offer[]; totalCount: number }>));
    const byDistance = q.client_lat !== undefined;
    const all = parts.flatMap((p) => p.offers).sort((a, b) => compareOffers(a, b, byDistance));
    const total = parts.reduce((n, p) => n + p.totalCount, 0);
    return c.json({ offers: all.slice(q.offset, q.offset + q.limit).map(offerView), total_count: total }, 200);
  })
  .openapi(request, async (c) => {
    const b = c.req.valid("json");
    let lat = b.client_lat ?? null;
    let lng = b.client_lng ?? null;
    if (lat === null) {
      const profile = await c.env.DB.prepare(`SELECT latitude, longitude FROM clients WHERE user_id = ?`).bind(caller(c).id).first<{ latitude: number | null; longitude: number | null }>();
      if (profile?.latitude != null && profile.longitude != null) {
        lat = profile.latitude;
        lng = profile.longitude;
      }
    }
    const req: MatchRequest = {
      ramGb: b.ram_gb,
      vramGb: b.vram_gb,
      durationSec: b.duration_sec,
      maxPriceNano: priceNano("max_price_per_gb_sec", b.max_price_per_gb_sec),
      preferLocal: b.prefer_local,
      maxDistanceKm: b.max_distance_km ?? null,
      minUptimeScore: b.min_uptime_score ?? null,
      region: b.region ?? null,
      clientLat: lat,
      clientLng: lng,
      limit: b.limit,
    };
    const result = await matchAcrossRegions(c.env, req);
    return c.json({ request_id: crypto.randomUUID(), matches: result.matches.map(matchView), total_candidates: result.totalCandidates }, 200);
  });
