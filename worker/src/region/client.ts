import type { Env } from "../env";
import type { NodeSnapshot, Reservation, ReserveResult } from "../domain/capacity";
import type { Match, MatchRequest, Offer, OfferFilter } from "../domain/matching";
import type { RegionRollup } from "../domain/rollup";

/** The region's Durable Object (one per region, by name). */
export function regionStub(env: Env, region: string) {
  return env.REGION_CLUSTER.get(env.REGION_CLUSTER.idFromName(region));
}

/**
 * The region's read side (the marketplace and the cluster figures), typed once here: an RPC stub
 * wraps every value it returns, which its callers do not need.
 */
export function regionReads(env: Env, region: string) {
  const stub = regionStub(env, region);
  return {
    browse: (filter: OfferFilter, page?: { limit: number; offset: number }) =>
      stub.browse(region, filter, page) as Promise<{ offers: Offer[]; totalCount: number }>,
    match: (req: MatchRequest) => stub.match(region, req) as Promise<{ matches: Match[]; totalCandidates: number }>,
    rollup: () => stub.rollup(region) as Promise<RegionRollup>,
  };
}

/** The region DO as the use cases need it; inside the DO itself this is the object, not a stub. */
export interface ClusterPort {
  reserve(
    region: string,
    req: { contractId: string; nodeId: string; ramGb: number; vramGb: number; clientUserId: string },
  ): Promise<ReserveResult>;
  confirm(region: string, contractId: string): Promise<boolean>;
  confirmAndPush(
    region: string,
    contractId: string,
    nodeId: string,
    update?: { userId: string; message: { type: string; data: unknown } },
  ): Promise<boolean>;
  activate(region: string, contractId: string, endTime: number): Promise<void>;
  release(region: string, contractId: string): Promise<boolean>;
  upsertNode(snapshot: NodeSnapshot): Promise<unknown>;
  match(region: string, req: MatchRequest): Promise<{ matches: { node: { id: string } }[] }>;
  notifyUser(userId: string, message: { type: string; data: unknown }): Promise<number>;
  pushNodeContracts(region: string, nodeId: string): Promise<number>;
  reservationsOf(region: string): Promise<Reservation[]>;
  rehold(region: string, r: Reservation): Promise<boolean>;
}

/** What a use case is given to reach the outside: the bindings and the region client. */
export interface Ports {
  env: Env;
  cluster(region: string): ClusterPort;
  /**
   * Runs post-commit work after the response (a request's `waitUntil`). Absent where nothing is
   * waiting on a response (the DO's alarm, the queue consumer, tests): the work is then awaited.
   */
  defer?(work: Promise<void>): void;
}

/**
 * The one place a region stub becomes a ClusterPort (RPC stubs wrap every return type, hence the
 * cast). `self` is the region DO itself when the caller runs inside it: its own region is then
 * called directly, never through a stub to itself (that would wait on its own input gate).
 */
export function portsFor(env: Env, self?: { region: string; cluster: ClusterPort }): Ports {
  return {
    env,
    cluster: (region) => (self && region === self.region ? self.cluster : (regionStub(env, region) as unknown as ClusterPort)),
  };
}

/** Ports for an HTTP request: post-commit work runs after the response, through the request's waitUntil. */
export function requestPorts(env: Env, ctx: { waitUntil(p: Promise<unknown>): void }): Ports {
  return { ...portsFor(env), defer: (work) => ctx.waitUntil(work) };
}
