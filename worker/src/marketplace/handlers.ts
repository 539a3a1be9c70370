import { clientPositionOfUser } from "../db/clients";
import { compareOffers, type Match, type MatchRequest, type Offer, type OfferFilter } from "../domain/matching";
import { nanoToPrice, priceToNano } from "../domain/money";
import { caller } from "../lib/auth";
import { invalid } from "../lib/errors";
import { regionReads } from "../region/client";
import type { AppRouteHandler } from "../lib/openapi";
import { matchAcrossRegions, regionsFor } from "./service";
import type * as routes from "./routes";

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

export const browse: AppRouteHandler<typeof routes.browse> = async (c) => {
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
  const parts = await Promise.all(regions.map((r) => regionReads(c.env, r).browse(filter, page)));
  const byDistance = q.client_lat !== undefined;
  const all = parts.flatMap((p) => p.offers).sort((a, b) => compareOffers(a, b, byDistance));
  const total = parts.reduce((n, p) => n + p.totalCount, 0);
  return c.json({ offers: all.slice(q.offset, q.offset + q.limit).map(offerView), total_count: total }, 200);
};

export const request: AppRouteHandler<typeof routes.request> = async (c) => {
  const b = c.req.valid("json");
  let lat = b.client_lat ?? null;
  let lng = b.client_lng ?? null;
  if (lat === null) {
    const profile = await clientPositionOfUser(c.env.DB, caller(c).id);
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
};
