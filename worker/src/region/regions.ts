import type { Env } from "../env";

/** Regions that have had at least one node (their first node created the clusters row). */
export async function knownRegions(env: Env): Promise<string[]> {
  const r = await env.DB.prepare(`SELECT region FROM clusters ORDER BY region`).all<{ region: string }>();
  return r.results.map((x) => x.region);
}
