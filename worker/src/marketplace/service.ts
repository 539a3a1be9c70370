import type { Env } from "../env";
import { matchNodes, type Candidate, type Match, type MatchRequest, type OfferFilter } from "../domain/matching";
import { regionReads } from "../region/client";
import { knownRegions } from "../region/regions";

/** The regions to ask. An unknown region is asked nothing: no Durable Object is woken for it. */
export async function regionsFor(env: Env, region: string | undefined) {
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
  if (regions.length === 1) return regionReads(env, regions[0]).match(req);
  const filter: OfferFilter = {
    minRamGb: req.ramGb,
    minVramGb: req.vramGb,
    maxPriceNano: req.maxPriceNano,
    minUptimeScore: req.minUptimeScore,
    clientLat: req.clientLat,
    clientLng: req.clientLng,
    maxDistanceKm: req.maxDistanceKm,
  };
  const parts = await Promise.all(regions.map((r) => regionReads(env, r).browse(filter)));
  const candidates: Candidate[] = parts.flatMap((p) => p.offers.map((o) => o.node));
  return matchNodes(candidates, req);
}
