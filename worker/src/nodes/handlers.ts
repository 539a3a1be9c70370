import type { Context } from "hono";
import { config } from "../env";
import type { NodeRow } from "../db/schema";
import { priceToNano, usdToMicro } from "../domain/money";
import { DEFAULT_UPTIME_SCORE } from "../domain/reliability";
import { heartbeatRetryAfterSec, heartbeatScore, reliabilityWindowStart } from "../domain/heartbeat";
import { authenticate, caller } from "../lib/auth";
import { ApiError, forbidden, invalid, notFound } from "../lib/errors";
import type { AppBindings, AppRouteHandler } from "../lib/openapi";
import { markReady, rejectContract } from "../contracts/activation";
import { contractViewOf } from "../contracts/views";
import { failOverNode, rejectContracts } from "../contracts/lifecycle";
import { settleAfterReceipts, storeLeaseReports } from "../leases/reports";
import { nodeContracts } from "./push";
import { portsFor, regionStub } from "../region/client";
import type * as routes from "./routes";
import { assertOwner, loadNode, queryNodes, syncNode } from "./service";
import { heldOnNode, openContractCountOnNode } from "../db/contracts";
import {
  earningsOfNode,
  insertNodeWithOffer,
  nodeAccess,
  recordHeartbeatIfDue,
  reliabilityCountsSince,
  retireNode,
  setEndpointIfChanged,
  snapshotOf,
  patchNode,
} from "../db/nodes";
import { nodeView, nodeViewFor } from "../views/nodes";

/** `last_30d_usd` of a node's earnings. */
const RECENT_EARNINGS_MS = 30 * 86_400_000;

/** The schema allows 3 decimals; this drops the binary noise of e.g. 0.1 + 0.2 before storing. */
const roundMs = (v: number) => Math.round(v * 1000) / 1000;
const retired = () => new ApiError("gone", "this node was retired; register a new node to offer memory again");

export const registerNode: AppRouteHandler<typeof routes.registerNode> = async (c) => {
  const b = c.req.valid("json");
  const me = caller(c);
  const priceNano = priceToNano(b.price_per_gb_sec);
  if (priceNano === null) throw invalid("price_per_gb_sec", "must have at most 9 decimal places");
  const egress = usdToMicro(b.egress_price_per_gb);
  if (egress === null) throw invalid("egress_price_per_gb", "must have at most 6 decimal places");
  const now = Date.now();
  const node: NodeRow = {
    id: crypto.randomUUID(),
    providerId: me.id,
    name: b.name,
    nodeType: b.node_type,
    region: b.region,
    latitude: b.latitude ?? null,
    longitude: b.longitude ?? null,
    totalRamGb: b.total_ram_gb,
    totalVramGb: b.total_vram_gb,
    reportedRamGb: b.total_ram_gb,
    reportedVramGb: b.total_vram_gb,
    bandwidthMbps: b.bandwidth_mbps,
    baseLatencyMs: roundMs(b.base_latency_ms),
    priceNano,
    status: "active",
    // The seed's default until the node has a heartbeat record (domain/reliability.ts).
    uptimeScore: DEFAULT_UPTIME_SCORE,
    heartbeatsReceived: 0,
    failedContracts: 0,
    metadata: b.metadata ? JSON.stringify(b.metadata) : null,
    endpoint: b.endpoint ?? null,
    lastHeartbeatAt: now,
    createdAt: now,
    updatedAt: now,
    retiredAt: null,
  };
  const offer = {
    id: crypto.randomUUID(),
    nodeId: node.id,
    minDurationSec: b.min_duration_sec,
    maxDurationSec: b.max_duration_sec,
    egressPriceMicro: egress,
    createdAt: now,
    updatedAt: now,
  };
  await insertNodeWithOffer(c.env.DB, node, offer);
  await syncNode(c.env, node);
  return c.json({ node_id: node.id, node: nodeView(node, offer, 0, 0, { withEndpoint: true }) }, 201);
};

export const heartbeat: AppRouteHandler<typeof routes.heartbeat> = async (c) => {
  const { id } = c.req.valid("param");
  const b = c.req.valid("json");
  const me = caller(c);
  const { node } = await loadNode(c.env.DB, id);
  assertOwner(me, node);
  if (node.retiredAt !== null) throw retired();
  const cfg = config(c.env);
  const interval = cfg.heartbeatMinIntervalSec;
  const now = Date.now();

  // Reliability: the share of expected heartbeats received over the last 30 days (domain/reliability.ts).
  // Both counts cover the same 30-day window, so an old failure stops weighing on the score.
  const windowStart = reliabilityWindowStart(now);
  const counts = await reliabilityCountsSince(c.env.DB, id, windowStart);
  const score = heartbeatScore({
    receivedInWindow: counts.received,
    failedInWindow: counts.failed,
    registeredAtMs: node.createdAt,
    nowMs: now,
    intervalSec: interval,
  });

  // The rate limit and the write are one conditional statement: two racing heartbeats cannot both pass.
  const stored = await recordHeartbeatIfDue(
    c.env.DB,
    id,
    {
      availableRamGb: b.available_ram_gb,
      availableVramGb: b.available_vram_gb,
      bandwidthMbps: b.bandwidth_mbps ?? null,
      latitude: b.latitude ?? null,
      longitude: b.longitude ?? null,
      cpuUsagePct: b.cpu_usage_pct ?? null,
      gpuUsagePct: b.gpu_usage_pct ?? null,
      temperatureC: b.temperature_c ?? null,
      uptimeScore: score,
    },
    now,
    interval * 1000,
  );
  if (!stored) {
    const { node: current } = await loadNode(c.env.DB, id);
    if (current.retiredAt !== null) throw retired(); // retired while this heartbeat was in flight
    const retry = heartbeatRetryAfterSec(node.lastHeartbeatAt, now, interval);
    throw new ApiError("rate_limited", `one heartbeat per ${interval} s per node; retry in ${retry} s`, undefined, {
      "Retry-After": String(retry),
    });
  }
  // The data plane: a changed endpoint is picked up, and the leases' counters and receipts stored.
  if (b.endpoint !== undefined) await setEndpointIfChanged(c.env.DB, id, b.endpoint);
  if (b.lease_reports?.length) await settleAfterReceipts(c.env, await storeLeaseReports(c.env, id, b.lease_reports, now));
  const { node: fresh } = await loadNode(c.env.DB, id);
  await regionStub(c.env, fresh.region).upsertNode(snapshotOf(fresh));
  if (b.rejected_contracts?.length) await rejectContracts(c.env, fresh, b.rejected_contracts);
  // Delivery only: a contract becomes active when the node calls `ready` (contracts/activation.ts, through the `ready` handler).
  const leases = await nodeContracts(c.env, id);
  return c.json(
    {
      status: fresh.status,
      next_heartbeat_sec: Math.max(1, interval),
      contracts: leases,
    },
    200,
  );
};

export const listNodes: AppRouteHandler<typeof routes.listNodes> = async (c) => {
  const q = c.req.valid("query");
  const me = caller(c);
  const page = await queryNodes(
    c.env,
    {
      nodeType: q.node_type,
      region: q.region,
      status: q.status,
      providerId: q.mine === "true" ? me.id : undefined,
      minRam: q.min_ram,
      minVram: q.min_vram,
    },
    q.limit,
    q.offset,
    me,
  );
  return c.json({ nodes: page.nodes.map((n) => nodeViewFor(me, n)), total_count: page.total_count }, 200);
};

export const getNode: AppRouteHandler<typeof routes.getNode> = async (c) => {
  const { id } = c.req.valid("param");
  const me = caller(c);
  const { node, offer } = await loadNode(c.env.DB, id);
  const held = await heldOnNode(c.env.DB, id);
  const open = await openContractCountOnNode(c.env.DB, id);
  let earnings: { total_usd: number; last_30d_usd: number } | null = null;
  if (me.role === "admin" || me.id === node.providerId) {
    const e = await earningsOfNode(c.env.DB, id, Date.now() - RECENT_EARNINGS_MS);
    earnings = { total_usd: (e?.total ?? 0) / 1e6, last_30d_usd: (e?.recent ?? 0) / 1e6 };
  }
  return c.json(
    {
      node: nodeViewFor(me, nodeView(node, offer, held.ram, held.vram, { withEndpoint: me.role === "admin" || me.id === node.providerId })),
      earnings,
      active_contracts: open,
    },
    200,
  );
};

export const updateNode: AppRouteHandler<typeof routes.updateNode> = async (c) => {
  const { id } = c.req.valid("param");
  const b = c.req.valid("json");
  const { node, offer } = await loadNode(c.env.DB, id);
  assertOwner(caller(c), node);
  const patch: Partial<NodeRow> = { updatedAt: Date.now() };
  if (b.name !== undefined) patch.name = b.name;
  if (b.price_per_gb_sec !== undefined) {
    const nano = priceToNano(b.price_per_gb_sec);
    if (nano === null) throw invalid("price_per_gb_sec", "must have at most 9 decimal places");
    patch.priceNano = nano;
  }
  if (b.bandwidth_mbps !== undefined) patch.bandwidthMbps = b.bandwidth_mbps;
  if (b.base_latency_ms !== undefined) patch.baseLatencyMs = roundMs(b.base_latency_ms);
  if (b.latitude !== undefined) patch.latitude = b.latitude;
  if (b.longitude !== undefined) patch.longitude = b.longitude;
  if (b.metadata !== undefined) patch.metadata = JSON.stringify(b.metadata);
  if (b.endpoint !== undefined) patch.endpoint = b.endpoint;
  if (b.status !== undefined) {
    if (node.retiredAt !== null) throw new ApiError("conflict", "this node is retired; register a new node instead");
    if (
      node.status === "offline" &&
      b.status === "active" &&
      node.lastHeartbeatAt !== null &&
      Date.now() - node.lastHeartbeatAt > config(c.env).nodeOfflineAfterSec * 1000
    ) {
      throw new ApiError("conflict", "this node is offline: it comes back active with its next heartbeat");
    }
    patch.status = b.status;
  }
  const updated = await patchNode(c.env.DB, id, patch);
  await syncNode(c.env, updated);
  const held = await heldOnNode(c.env.DB, id);
  return c.json({ node: nodeView(updated, offer, held.ram, held.vram, { withEndpoint: true }) }, 200);
};

export const deleteNode: AppRouteHandler<typeof routes.deleteNode> = async (c) => {
  const { id } = c.req.valid("param");
  const { node, offer } = await loadNode(c.env.DB, id);
  assertOwner(caller(c), node);
  // Retired for good (API.md, Nodes): offline, never matched again, heartbeats answer 410.
  const now = Date.now();
  await retireNode(c.env.DB, id, now);
  const { node: updated } = await loadNode(c.env.DB, id);
  await syncNode(c.env, updated);
  // Each contract is failed over on its own; one that throws is retried by the region sweep,
  // which fails over every open contract on an offline node.
  await failOverNode(c.env, updated, "node withdrawn by its provider");
  const held = await heldOnNode(c.env.DB, id);
  return c.json({ node: nodeView(updated, offer, held.ram, held.vram, { withEndpoint: true }) }, 200);
};

async function ownedNode(c: Context<AppBindings>, id: string) {
  const { node } = await loadNode(c.env.DB, id);
  assertOwner(caller(c), node);
  if ((node.status as string) === "retired") throw new ApiError("gone", "this node was retired");
  return node;
}

export const ready: AppRouteHandler<typeof routes.ready> = async (c) => {
  const { id, contract_id } = c.req.valid("param");
  const node = await ownedNode(c, id);
  const k = await markReady(portsFor(c.env), node, contract_id, Date.now());
  return c.json({ contract: await contractViewOf(c.env, k) }, 200);
};

export const reject: AppRouteHandler<typeof routes.reject> = async (c) => {
  const { id, contract_id } = c.req.valid("param");
  const body = c.req.header("content-type")?.includes("application/json")
    ? (c.req.valid("json") as { reason?: string } | undefined)
    : undefined;
  const node = await ownedNode(c, id);
  const k = await rejectContract(portsFor(c.env), node, contract_id, body?.reason, Date.now());
  return c.json({ contract: await contractViewOf(c.env, k) }, 200);
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** GET /ws/nodes/{node_id}: the push channel (nodes/push.ts), handed to the node's region Durable Object. */
export const pushChannel = async (c: Context<AppBindings, "/ws/nodes/:node_id">) => {
  // The owner's API key (X-API-Key; a bearer token works too). Never in the URL: URLs end up in logs.
  const user = await authenticate(c);
  const nodeId = c.req.param("node_id");
  if (!UUID.test(nodeId)) throw notFound("node");
  const node = await nodeAccess(c.env.DB, nodeId);
  if (!node) throw notFound("node");
  if (user.role !== "admin" && node.provider_id !== user.id) throw forbidden("this node belongs to another provider");
  if (node.status === "retired") throw new ApiError("gone", "this node was retired");
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    throw new ApiError("validation_failed", "this endpoint needs a WebSocket upgrade", [
      { field: "upgrade", message: "must be websocket" },
    ]);
  }
  const headers = new Headers(c.req.raw.headers);
  headers.delete("x-api-key");
  headers.delete("authorization");
  headers.set("x-mnemo-node-id", node.id);
  headers.set("x-mnemo-region", node.region);
  return regionStub(c.env, node.region).fetch(new Request(c.req.url, { headers }));
};
