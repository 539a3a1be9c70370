import type { Env } from "../env";

/** The region's Durable Object (one per region, by name). */
export function regionStub(env: Env, region: string) {
  return env.REGION_CLUSTER.get(env.REGION_CLUSTER.idFromName(region));
}
