import { regionNames } from "../db/clusters";
import type { Env } from "../env";

/** Regions that have had at least one node (their first node created the clusters row). */
export async function knownRegions(env: Env): Promise<string[]> {
  return regionNames(env.DB);
}
