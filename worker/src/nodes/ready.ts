import { createRoute, z } from "@hono/zod-openapi";
import { caller, requireAuth } from "../lib/auth";
import type { Context } from "hono";
import { createRouter, errors, jsonContent, security, type AppBindings } from "../lib/openapi";
import { markReady, rejectContract } from "../contracts/activation";
import { portsFor } from "../contracts/lifecycle";
import { ContractSchema } from "../contracts/schemas";
import { contractViewOf } from "../leases/reports";
import { ApiError } from "../lib/errors";
import { assertOwner, loadNode } from "./service";

const tags = ["Nodes"];
const Params = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, description: "The node" }),
  contract_id: z.uuid().openapi({ param: { name: "contract_id", in: "path" }, description: "One of the node's contracts" }),
});
const RejectBody = z.object({ reason: z.string().trim().max(500).optional() }).openapi("RejectContract");
const one = z.object({ contract: ContractSchema });

const ready = createRoute({
  method: "post",
  path: "/api/nodes/{id}/contracts/{contract_id}/ready",
  tags,
  security: [...security.bearer],
  middleware: [requireAuth("provider")] as const,
  summary: "The node holds the lease: the contract becomes active and its term starts now",
  description:
    "Called by the node's agent (its owner's API key) once it has opened the lease on its endpoint. The contract becomes `active`, `start_time` = now and `end_time` = now + the term; billing starts here, never while pending. Calling it again on the active contract answers 200 with it (idempotent); on an ended contract (cancelled, failed over, timed out) 409 `conflict`. The node must have published its `endpoint` first (409 otherwise): a renter is never billed for a lease they cannot reach. A contract not made ready within LEASE_READY_TIMEOUT_SEC (default 60) of its creation is failed over by the region's sweep and never charged. Another node's contract is 404; another provider's node 403.",
  request: { params: Params },
  responses: { 200: jsonContent(one, "The active contract"), ...errors(401, 403, 404, 409, 410) },
});

const reject = createRoute({
  method: "post",
  path: "/api/nodes/{id}/contracts/{contract_id}/reject",
  tags,
  security: [...security.bearer],
  middleware: [requireAuth("provider")] as const,
  summary: "The node cannot hold the contract: it is failed over",
  description:
    "A pending contract is ended `failed`, never charged (its hold is released, its capacity freed) and moved to the best other node in the region that can hold it (`failed_over_to`), as when a node goes silent. A contract rejected after `ready` (the lease was lost) is failed over the same way and charged only for the time held. Rejecting a contract that already failed answers it again (200); a completed or cancelled one is 409. The body is optional: `{reason}` is kept as the contract's `end_reason`. Listing the id in a heartbeat's `rejected_contracts` has the same effect.",
  request: { params: Params, body: { required: false, content: { "application/json": { schema: RejectBody } } } },
  responses: { 200: jsonContent(one, "The original contract, now failed (see failed_over_to)"), ...errors(401, 403, 404, 409, 410) },
});

async function ownedNode(c: Context<AppBindings>, id: string) {
  const { node } = await loadNode(c.var.db, id);
  assertOwner(caller(c), node);
  if ((node.status as string) === "retired") throw new ApiError("gone", "this node was retired");
  return node;
}

export const nodeReadyRouter = createRouter()
  .openapi(ready, async (c) => {
    const { id, contract_id } = c.req.valid("param");
    const node = await ownedNode(c, id);
    const k = await markReady(portsFor(c.env), node, contract_id, Date.now());
    return c.json({ contract: await contractViewOf(c.env, k) }, 200);
  })
  .openapi(reject, async (c) => {
    const { id, contract_id } = c.req.valid("param");
    const body = c.req.header("content-type")?.includes("application/json") ? (c.req.valid("json") as { reason?: string } | undefined) : undefined;
    const node = await ownedNode(c, id);
    const k = await rejectContract(portsFor(c.env), node, contract_id, body?.reason, Date.now());
    return c.json({ contract: await contractViewOf(c.env, k) }, 200);
  });
