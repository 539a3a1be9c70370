/**
 * The marketplace's matching core: which nodes can serve a renter's request, and in what order.
 * Pure functions over plain data; the region Durable Object keeps the nodes in memory (see
 * spatial-index.ts) and calls these.
 *
 * The reference algorithm (API.md, "Match score"), exactly:
 *
 * Hard filters — a node is a candidate only when all hold:
 *   - status is `active`;
 *   - available RAM ≥ ram_gb and available VRAM ≥ vram_gb;
 *   - price ≤ max_price_per_gb_sec, when the request names one;
 *   - uptime_score ≥ min_uptime_score, when given;
 *   - region equals the request's region, when given;
 *   - distance ≤ max_distance_km, when given — and only where both the renter and the node have
 *     coordinates: a node without a position is not excluded by distance (it just scores no
 *     proximity), and a renter without a position gets no distance filter at all.
 *
 * Score, summed in this order (plain floats: scores are not money, nothing is rounded):
 *   proximity   = max(0, 100 − distance_km / 10), ×3 when prefer_local; 0 where either side has no
 *                 coordinates. Distance is haversine with R = 6371 km (geo.ts).
 *   price       = (1 − price / max_price) × 50, where max_price is the request's
 *                 max_price_per_gb_sec, or else the highest price among the nodes that passed the
 *                 hard filters. When that max_price is 0 (every candidate is free) the ratio is
 *                 undefined; every candidate then gets the full 50, since none is dearer than another.
 *   reliability = uptime_score × 0.5.
 *   capacity    = min(30, (available_ram + available_vram) / (ram_gb + vram_gb) × 10). The API
 *                 rejects ram_gb + vram_gb = 0; should it reach here anyway, capacity is the cap, 30.
 *   node_type   = 20 for `mist_node`, else 0.
 *
 * Order: higher score first; equal scores break by lower price, then lower distance (a node with
 * no distance sorts after any node with one), then node id by plain string comparison (UTF-16
 * code units, not locale collation, so the order is the same in every runtime).
 *
 * estimated_cost    = (ram_gb + vram_gb) × duration_sec × price, in integer micro-USD rounded up
 *                     (money.ts `costMicro`).
 * estimated_latency = base_latency_ms + round(distance_km / 100): light in fibre covers ~200 km per
 *                     ms, so each 100 km of distance adds ~1 ms of round trip. Without a distance,
 *                     just base_latency_ms.
 */

import { haversineKm } from "./geo";
import { costMicro } from "./money";

export type NodeType = "datacenter" | "edge_cluster" | "mist_node";
export type NodeStatus = "active" | "maintenance" | "offline";

/** A node as the matcher sees it: its live capacity, its price and where it is. */
export interface Candidate {
  id: string;
  name: string;
  nodeType: NodeType;
  region: string;
  latitude: number | null;
  longitude: number | null;
  availableRamGb: number;
  availableVramGb: number;
  /** nano-USD per GB-second */
  priceNano: number;
  /** 0..100 (reliability.ts) */
  uptimeScore: number;
  status: NodeStatus;
  baseLatencyMs: number;
}

/** A renter's request, already validated and converted at the API edge. */
export interface MatchRequest {
  ramGb: number;
  vramGb: number;
  durationSec: number;
  maxPriceNano?: number | null;
  preferLocal: boolean;
  maxDistanceKm?: number | null;
  minUptimeScore?: number | null;
  region?: string | null;
  clientLat?: number | null;
  clientLng?: number | null;
  /** How many matches to return; the count of candidates is reported regardless. */
  limit: number;
}

export interface ScoreBreakdown {
  proximity: number;
  price: number;
  reliability: number;
  capacity: number;
  node_type: number;
}

export interface Match {
  node: Candidate;
  score: number;
  breakdown: ScoreBreakdown;
  distanceKm: number | null;
  estimatedCostMicro: number;
  estimatedLatencyMs: number;
}

export interface MatchResult {
  /** The best `limit` candidates, best first. */
  matches: Match[];
  /** How many nodes passed the hard filters. */
  totalCandidates: number;
}

export const PROXIMITY_LOCAL_MULTIPLIER = 3;
export const MIST_NODE_BONUS = 20;
export const CAPACITY_SCORE_CAP = 30;
export const PRICE_SCORE_WEIGHT = 50;

/** Renter coordinates, or null unless both are present. */
export function clientPoint(req: { clientLat?: number | null; clientLng?: number | null }): { lat: number; lng: number } | null {
  return req.clientLat != null && req.clientLng != null ? { lat: req.clientLat, lng: req.clientLng } : null;
}

/** Distance from the renter to a node, or null when either side has no coordinates. */
export function distanceToNode(c: Candidate, client: { lat: number; lng: number } | null): number | null {
  if (client === null || c.latitude == null || c.longitude == null) return null;
  return haversineKm(client.lat, client.lng, c.latitude, c.longitude);
}

export function estimatedLatencyMs(baseLatencyMs: number, distanceKm: number | null): number {
  // base_latency_ms has up to 3 decimals (0.8): round the sum so no binary noise (1.8000000000000003) shows.
  return distanceKm === null ? baseLatencyMs : Math.round((baseLatencyMs + Math.round(distanceKm / 100)) * 1000) / 1000;
}

/** The hard filters of the reference algorithm; `distanceKm` is null when either side has no position. */
export function passesHardFilters(c: Candidate, req: MatchRequest, distanceKm: number | null): boolean {
  return (
    c.status === "active" &&
    c.availableRamGb >= req.ramGb &&
    c.availableVramGb >= req.vramGb &&
    (req.maxPriceNano == null || c.priceNano <= req.maxPriceNano) &&
    (req.minUptimeScore == null || c.uptimeScore >= req.minUptimeScore) &&
    (req.region == null || c.region === req.region) &&
    (req.maxDistanceKm == null || distanceKm === null || distanceKm <= req.maxDistanceKm)
  );
}

/**
 * Score of one candidate. `maxPriceNano` is the request's max price or, without one, the highest
 * price among the candidates that passed the hard filters.
 */
export function scoreCandidate(
  c: Candidate,
  req: MatchRequest,
  maxPriceNano: number,
  distanceKm: number | null,
): { score: number; breakdown: ScoreBreakdown } {
  const breakdown = scoreBreakdown(c, req, maxPriceNano, distanceKm);
  return { score: sumBreakdown(breakdown), breakdown };
}

function scoreBreakdown(c: Candidate, req: MatchRequest, maxPriceNano: number, distanceKm: number | null): ScoreBreakdown {
  return {
    proximity: proximityScore(distanceKm, req.preferLocal),
    price: priceScore(c.priceNano, maxPriceNano),
    reliability: reliabilityScore(c.uptimeScore),
    capacity: capacityScore(c, req),
    node_type: nodeTypeScore(c.nodeType),
  };
}

// Adds in the same order as `matchScore`: float addition is not associative, and the index and
// the reference scan must produce bit-identical scores to rank ties the same way.
function sumBreakdown(b: ScoreBreakdown): number {
  return b.proximity + b.price + b.reliability + b.capacity + b.node_type;
}

/**
 * `scoreCandidate(...).score` without building the breakdown: the index scores every candidate
 * and only the best `limit` need one. Same terms, same order of addition, so the same float.
 */
export function matchScore(c: Candidate, req: MatchRequest, maxPriceNano: number, distanceKm: number | null): number {
  return (
    proximityScore(distanceKm, req.preferLocal) +
    priceScore(c.priceNano, maxPriceNano) +
    reliabilityScore(c.uptimeScore) +
    capacityScore(c, req) +
    nodeTypeScore(c.nodeType)
  );
}

function proximityScore(distanceKm: number | null, preferLocal: boolean): number {
  if (distanceKm === null) return 0;
  return Math.max(0, 100 - distanceKm / 10) * (preferLocal ? PROXIMITY_LOCAL_MULTIPLIER : 1);
}

function priceScore(priceNano: number, maxPriceNano: number): number {
  return maxPriceNano === 0 ? PRICE_SCORE_WEIGHT : (1 - priceNano / maxPriceNano) * PRICE_SCORE_WEIGHT;
}

function reliabilityScore(uptimeScore: number): number {
  return uptimeScore * 0.5;
}

function capacityScore(c: Candidate, req: MatchRequest): number {
  const requested = req.ramGb + req.vramGb;
  if (!(requested > 0)) return CAPACITY_SCORE_CAP;
  return Math.min(CAPACITY_SCORE_CAP, ((c.availableRamGb + c.availableVramGb) / requested) * 10);
}

function nodeTypeScore(nodeType: NodeType): number {
  return nodeType === "mist_node" ? MIST_NODE_BONUS : 0;
}

/** Turns a scored candidate into a match (cost and latency estimates included). */
export function toMatch(c: Candidate, req: MatchRequest, maxPriceNano: number, distanceKm: number | null): Match {
  const { score, breakdown } = scoreCandidate(c, req, maxPriceNano, distanceKm);
  return {
    node: c,
    score,
    breakdown,
    distanceKm,
    estimatedCostMicro: costMicro(req.ramGb + req.vramGb, req.durationSec, c.priceNano),
    estimatedLatencyMs: estimatedLatencyMs(c.baseLatencyMs, distanceKm),
  };
}

/** Lower distance first; no distance after any distance. */
export function compareDistance(a: number | null, b: number | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a - b;
}

export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Match order: negative when `a` ranks before `b`. */
export function compareMatches(
  a: { score: number; node: Candidate; distanceKm: number | null },
  b: { score: number; node: Candidate; distanceKm: number | null },
): number {
  if (a.score !== b.score) return b.score - a.score;
  if (a.node.priceNano !== b.node.priceNano) return a.node.priceNano - b.node.priceNano;
  const byDistance = compareDistance(a.distanceKm, b.distanceKm);
  if (byDistance !== 0) return byDistance;
  return compareIds(a.node.id, b.node.id);
}

export function matchLimit(limit: number): number {
  return Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : 0;
}

/**
 * The reference matcher: a plain scan of every candidate. `NodeIndex.match` (spatial-index.ts)
 * must return exactly what this returns; this stays the simple, obviously-right version.
 */
export function matchNodes(candidates: Iterable<Candidate>, req: MatchRequest): MatchResult {
  const client = clientPoint(req);
  const passing: Array<{ c: Candidate; d: number | null }> = [];
  let highestPrice = 0;
  for (const c of candidates) {
    const d = distanceToNode(c, client);
    if (!passesHardFilters(c, req, d)) continue;
    passing.push({ c, d });
    if (c.priceNano > highestPrice) highestPrice = c.priceNano;
  }
  const maxPrice = req.maxPriceNano ?? highestPrice;
  const matches = passing.map(({ c, d }) => toMatch(c, req, maxPrice, d));
  matches.sort(compareMatches);
  return { matches: matches.slice(0, matchLimit(req.limit)), totalCandidates: passing.length };
}

// ---------------------------------------------------------------------------------------------
// Browsing (GET /api/marketplace): a filter, not a ranking.
// ---------------------------------------------------------------------------------------------

export interface OfferFilter {
  nodeType?: NodeType | null;
  region?: string | null;
  minRamGb?: number | null;
  minVramGb?: number | null;
  maxPriceNano?: number | null;
  minUptimeScore?: number | null;
  clientLat?: number | null;
  clientLng?: number | null;
  maxDistanceKm?: number | null;
}

export interface Offer {
  node: Candidate;
  /** null without client coordinates or without the node's. */
  distanceKm: number | null;
  estimatedLatencyMs: number;
}

/** Whether a node is listed at all, and under the filter; `distanceKm` as in `passesHardFilters`. */
export function passesOfferFilter(c: Candidate, f: OfferFilter, distanceKm: number | null): boolean {
  return (
    c.status === "active" &&
    c.availableRamGb + c.availableVramGb > 0 &&
    (f.nodeType == null || c.nodeType === f.nodeType) &&
    (f.region == null || c.region === f.region) &&
    (f.minRamGb == null || c.availableRamGb >= f.minRamGb) &&
    (f.minVramGb == null || c.availableVramGb >= f.minVramGb) &&
    (f.maxPriceNano == null || c.priceNano <= f.maxPriceNano) &&
    (f.minUptimeScore == null || c.uptimeScore >= f.minUptimeScore) &&
    (f.maxDistanceKm == null || distanceKm === null || distanceKm <= f.maxDistanceKm)
  );
}

/**
 * Offer order, stable so pages do not shuffle between requests: with client coordinates the
 * nearest first (nodes without a position last), then cheaper, then node id; without them,
 * cheaper first, then node id.
 */
export function compareOffers(a: Offer, b: Offer, byDistance: boolean): number {
  if (byDistance) {
    const d = compareDistance(a.distanceKm, b.distanceKm);
    if (d !== 0) return d;
  }
  if (a.node.priceNano !== b.node.priceNano) return a.node.priceNano - b.node.priceNano;
  return compareIds(a.node.id, b.node.id);
}

export function toOffer(c: Candidate, distanceKm: number | null): Offer {
  return { node: c, distanceKm, estimatedLatencyMs: estimatedLatencyMs(c.baseLatencyMs, distanceKm) };
}

/**
 * Active nodes with free capacity that match the browse filter, in `compareOffers` order. The
 * max-distance filter, as in matching, applies only where both sides have coordinates.
 */
export function filterOffers(candidates: Iterable<Candidate>, filter: OfferFilter): Offer[] {
  const client = clientPoint(filter);
  const offers: Offer[] = [];
  for (const c of candidates) {
    const d = distanceToNode(c, client);
    if (passesOfferFilter(c, filter, d)) offers.push(toOffer(c, d));
  }
  const byDistance = client !== null;
  offers.sort((a, b) => compareOffers(a, b, byDistance));
  return offers;
}
