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

export interface UserMessage {
  type: string;
  data: unknown;
}

/** A contract committed in D1, for its region object: confirm the hold, tell the renter, push the node. */
export interface CreatedNotice {
  contractId: string;
  nodeId: string;
  userId: string;
  message: UserMessage;
}

/** The region DO as the use cases need it; inside the DO itself this is the object, not a stub. */
export interface ClusterPort {
  reserve(
    region: string,
    req: { contractId: string; nodeId: string; ramGb: number; vramGb: number; clientUserId: string },
  ): Promise<ReserveResult>;
  confirm(region: string, contractId: string): Promise<boolean>;
  afterCreate(region: string, created: CreatedNotice[]): Promise<string[]>;
  activate(region: string, contractId: string, endTime: number): Promise<void>;
  release(region: string, contractId: string): Promise<boolean>;
  upsertNode(snapshot: NodeSnapshot): Promise<unknown>;
  match(region: string, req: MatchRequest): Promise<{ matches: { node: { id: string } }[] }>;
  notifyUser(userId: string, message: UserMessage): Promise<number>;
  notifyUsers(updates: { userId: string; message: UserMessage }[]): Promise<number>;
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

// ---- post-commit notices, gathered -------------------------------------------------------------

/**
 * How long a request's post-commit notices wait for others bound to the same region object, and
 * how many one call carries. A burst of creations in one region then costs the region object a
 * handful of calls rather than one (or two) per creation: each call is a round trip and a turn of
 * the object's single thread, and in a burst those turns, not the work in them, were the cost
 * (docs/scale.md). The wait is after the response, so only the agent's push is later by it.
 */
const GATHER_MS = 5;
const GATHER_MAX = 200;

/** Notices gathering in this isolate, by the region object they are for. */
const gathering = new Map<string, unknown[]>();

/**
 * Adds `item` to the gathering for `key`, or opens one. The request that opens a gathering sends it
 * through its own `defer` (its waitUntil), so it stays alive until the call is made; the requests
 * that join wait for nothing: no request ever waits on another's promise (workerd cancels such a
 * request as hung), and a lost send leaves each notice to its safety net (the alarm confirms
 * stale reservations against D1, heartbeats carry the node's list, agents reconcile).
 */
function gather<T>(key: string, item: T, defer: (work: Promise<void>) => void, send: (items: T[]) => Promise<unknown>): void {
  const open = gathering.get(key) as T[] | undefined;
  if (open && open.length < GATHER_MAX) {
    open.push(item);
    return;
  }
  const items = [item];
  gathering.set(key, items);
  defer(
    logged(
      key,
      items.length,
      new Promise((r) => setTimeout(r, GATHER_MS)).then(() => {
        if (gathering.get(key) === items) gathering.delete(key);
        return send(items);
      }),
    ),
  );
}

/**
 * Post-commit work only speeds things up (each notice has its net, above): a failure is logged,
 * never the caller's failure.
 */
function logged(step: string, notices: number, work: Promise<unknown>): Promise<void> {
  return work.then(
    () => undefined,
    (e) => console.error(JSON.stringify({ level: "warn", step, notices, error: String((e as Error)?.message ?? e) })),
  );
}

type Announced = CreatedNotice & { region: string; home: string };

/**
 * The contract's region object first (confirm, the renter's sockets there, the node's push); then,
 * for the contracts whose update was still current there, the renters' sockets on their home
 * regions, so a home region never hears "pending" after the region decided it was stale.
 */
async function sendCreated(ports: Ports, region: string, notices: Announced[]): Promise<void> {
  const current = new Set(
    await ports.cluster(region).afterCreate(
      region,
      notices.map((n) => ({ contractId: n.contractId, nodeId: n.nodeId, userId: n.userId, message: n.message })),
    ),
  );
  const byHome = new Map<string, { userId: string; message: UserMessage }[]>();
  for (const n of notices) {
    if (n.home === region || !current.has(n.contractId)) continue;
    byHome.set(n.home, [...(byHome.get(n.home) ?? []), { userId: n.userId, message: n.message }]);
  }
  await Promise.all([...byHome].map(([home, updates]) => ports.cluster(home).notifyUsers(updates)));
}

/**
 * Tells the contract's region object that a creation committed (confirm, the renter's sockets
 * there, the node's push), and the renter's sockets on their home region when it is another one.
 * Inside a request the notices are gathered with those of concurrent requests and sent after the
 * response; elsewhere (the alarm, the queue consumer, tests) they are sent at once and awaited.
 * Never throws: a lost notice is left to its net.
 */
export async function announceCreated(ports: Ports, notice: Announced): Promise<void> {
  if (!ports.defer) return logged(`created:${notice.region}`, 1, sendCreated(ports, notice.region, [notice]));
  gather(`created:${notice.region}`, notice, ports.defer, (items) => sendCreated(ports, notice.region, items));
}
