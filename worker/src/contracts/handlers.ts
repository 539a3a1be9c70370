import type { ContractRow } from "../db/schema";
import { caller, type AuthUser } from "../lib/auth";
import { ApiError, notFound } from "../lib/errors";
import type { AppBindings, AppRouteHandler } from "../lib/openapi";
import { iso } from "../lib/time";
import { heldOnNode, pageOfContracts } from "../db/contracts";
import { findNode, latestMetricsOf } from "../db/nodes";
import { nodeView, nodeViewFor } from "../views/nodes";
import { portsFor, requestPorts } from "../region/client";
import * as life from "./lifecycle";
import * as create from "./create";
import type * as routes from "./routes";
import { contractView, contractViewOf, contractViews } from "./views";

/** A contract is visible to its renter, the provider of its node and admins; to anyone else it does not exist. */
function canSee(user: AuthUser, k: ContractRow) {
  return user.role === "admin" || k.clientUserId === user.id || k.providerId === user.id;
}

async function ownContract(c: { env: AppBindings["Bindings"] }, user: AuthUser, id: string): Promise<ContractRow> {
  const k = await life.loadContract(c.env, id);
  if (!canSee(user, k)) throw notFound("contract");
  // The provider may look, but only the renter (or an admin) acts on a contract.
  if (user.role !== "admin" && k.clientUserId !== user.id) throw new ApiError("forbidden", "only the renter can change this contract");
  return k;
}

export const createContract: AppRouteHandler<typeof routes.createContract> = async (c) => {
  const b = c.req.valid("json");
  const k = await create.createContract(requestPorts(c.env, c.executionCtx), caller(c), {
    nodeId: b.node_id,
    ramGb: b.ram_gb,
    vramGb: b.vram_gb,
    durationSec: b.duration_sec,
    autoRenew: b.auto_renew,
  });
  // A contract created this instant has no lease report yet: no read for one.
  return c.json({ contract: contractView(k) }, 201);
};

export const listContracts: AppRouteHandler<typeof routes.listContracts> = async (c) => {
  const q = c.req.valid("query");
  const me = caller(c);
  const page = await pageOfContracts(
    c.env.DB,
    {
      clientUserId: me.role === "user" ? me.id : undefined,
      providerId: me.role === "provider" ? me.id : undefined,
      status: q.status,
      nodeId: q.node_id,
    },
    q.limit,
    q.offset,
  );
  return c.json({ contracts: await contractViews(c.env, page.rows), total_count: page.total }, 200);
};

export const getContract: AppRouteHandler<typeof routes.getContract> = async (c) => {
  const { id } = c.req.valid("param");
  const k = await life.loadContract(c.env, id);
  if (!canSee(caller(c), k)) throw notFound("contract");
  const found = await findNode(c.env.DB, k.nodeId);
  if (!found) throw notFound("node");
  const { node, offer } = found;
  const held = await heldOnNode(c.env.DB, k.nodeId);
  const m = await latestMetricsOf(c.env.DB, k.nodeId);
  return c.json(
    {
      contract: await contractViewOf(c.env, k),
      node: nodeViewFor(
        caller(c),
        nodeView(node, offer, held.ram, held.vram, { withEndpoint: caller(c).role === "admin" || caller(c).id === node.providerId }),
      ),
      metrics: m
        ? {
            recorded_at: iso(m.recorded_at as number)!,
            available_ram_gb: m.available_ram_gb as number,
            available_vram_gb: m.available_vram_gb as number,
            cpu_usage_pct: m.cpu_usage_pct,
            gpu_usage_pct: m.gpu_usage_pct,
            temperature_c: m.temperature_c,
            bandwidth_mbps: m.bandwidth_mbps,
          }
        : null,
    },
    200,
  );
};

export const settleContract: AppRouteHandler<typeof routes.settleContract> = async (c) => {
  const { id } = c.req.valid("param");
  const body = c.req.header("content-type")?.includes("application/json")
    ? (c.req.valid("json") as { actual_egress_gb?: number } | undefined)
    : undefined;
  const k = await ownContract(c, caller(c), id);
  const after = await life.settleContract(portsFor(c.env), k, body?.actual_egress_gb);
  return c.json({ contract: await contractViewOf(c.env, after) }, 200);
};

export const extendContract: AppRouteHandler<typeof routes.extendContract> = async (c) => {
  const { id } = c.req.valid("param");
  const { additional_sec } = c.req.valid("json");
  const k = await ownContract(c, caller(c), id);
  const after = await life.extendContract(portsFor(c.env), k, additional_sec);
  return c.json({ contract: await contractViewOf(c.env, after) }, 200);
};

export const cancelContract: AppRouteHandler<typeof routes.cancelContract> = async (c) => {
  const { id } = c.req.valid("param");
  const k = await ownContract(c, caller(c), id);
  const after = await life.cancelContract(portsFor(c.env), k);
  return c.json({ contract: await contractViewOf(c.env, after) }, 200);
};
