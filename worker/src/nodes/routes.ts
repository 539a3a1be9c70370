import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../lib/auth";
import { IdParam, errors, jsonBody, jsonContent, security } from "../lib/openapi";
import { ContractSchema } from "../contracts/schemas";
import * as s from "./schemas";
import * as v from "../views/nodes";

const tags = ["Nodes"];
const auth = [...security.bearer];

export const registerNode = createRoute({
  method: "post",
  path: "/api/nodes/register",
  tags,
  security: auth,
  middleware: [requireAuth("provider")] as const,
  summary: "Register a node (providers); it starts active with available = total",
  description:
    "`endpoint` (`host:port`) is where the node's agent serves its leases over the Redis protocol; it is shown only to the node's owner and admins, and a node can make contracts ready only once it has one.",
  request: { body: jsonBody(s.RegisterNodeBody) },
  responses: { 201: jsonContent(z.object({ node_id: z.uuid(), node: v.NodeSchema }), "The new node"), ...errors(401, 403) },
});

export const heartbeat = createRoute({
  method: "post",
  path: "/api/nodes/{id}/heartbeat",
  tags,
  security: auth,
  middleware: [requireAuth("provider")] as const,
  summary: "Report free memory; receive the contracts the node must hold",
  description:
    "At most one per HEARTBEAT_MIN_INTERVAL_SEC per node (429 with Retry-After otherwise). The response's `contracts` lists every pending and active contract the node must hold (the same list the push channel `GET /ws/nodes/{id}` sends at once on every change; heartbeats are the fallback). Delivery does not activate a contract: the node's agent opens the lease and calls `POST /api/nodes/{id}/contracts/{contract_id}/ready`. A node that cannot hold a contract calls `…/reject`, or lists it in rejected_contracts on its next heartbeat, and the contract is failed over. `endpoint` updates the node's lease endpoint; `lease_reports` carries the live counters of every open lease and the end-of-lease receipts (stored only from an accepted heartbeat: after a 429, send them again). Reported free memory never releases what contracts hold. An offline node comes back active with its heartbeat; a node in maintenance stays in maintenance.",
  request: { params: IdParam, body: jsonBody(s.HeartbeatBody) },
  responses: { 200: jsonContent(s.HeartbeatResponse, "Accepted"), ...errors(401, 403, 404, 410, 429) },
});

export const listNodes = createRoute({
  method: "get",
  path: "/api/nodes",
  tags,
  security: auth,
  middleware: [requireAuth()] as const,
  summary: "List nodes with filters (min_ram/min_vram compare available capacity)",
  description:
    "The caller's own nodes (all of them for admins) in the full view; everyone else's in the public view (PublicNode: no provider_id, metadata, held or reported figures, nor endpoint).",
  request: { query: s.ListNodesQuery },
  responses: {
    200: jsonContent(z.object({ nodes: z.array(v.NodeViewSchema), total_count: z.number().int() }), "A page of nodes"),
    ...errors(401),
  },
});

export const getNode = createRoute({
  method: "get",
  path: "/api/nodes/{id}",
  tags,
  security: auth,
  middleware: [requireAuth()] as const,
  summary: "A node, its earnings (owner and admins only; null for others) and its active contract count",
  description: "The owner and admins get the full node; anyone else the public view (PublicNode).",
  request: { params: IdParam },
  responses: {
    200: jsonContent(
      z.object({
        node: v.NodeViewSchema,
        earnings: z.object({ total_usd: z.number(), last_30d_usd: z.number() }).nullable(),
        active_contracts: z.number().int(),
      }),
      "The node",
    ),
    ...errors(401, 404),
  },
});

export const updateNode = createRoute({
  method: "put",
  path: "/api/nodes/{id}",
  tags,
  security: auth,
  middleware: [requireAuth("provider")] as const,
  summary: "Update a node (owner)",
  description: "Price changes apply to new contracts; running contracts keep the price they were made at.",
  request: { params: IdParam, body: jsonBody(s.UpdateNodeBody) },
  responses: { 200: jsonContent(z.object({ node: v.NodeSchema }), "The node"), ...errors(401, 403, 404, 409) },
});

export const deleteNode = createRoute({
  method: "delete",
  path: "/api/nodes/{id}",
  tags,
  security: auth,
  middleware: [requireAuth("provider")] as const,
  summary: "Retire a node (owner): status offline for good, no longer matched; its pending and active contracts are failed over",
  description:
    "Retiring is final and idempotent: a second DELETE answers the same node. The node's later heartbeats answer 410 `gone`, and PUT cannot make it active again (409); register a new node instead.",
  request: { params: IdParam },
  responses: { 200: jsonContent(z.object({ node: v.NodeSchema }), "The node, now offline"), ...errors(401, 403, 404) },
});

const Params = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, description: "The node" }),
  contract_id: z.uuid().openapi({ param: { name: "contract_id", in: "path" }, description: "One of the node's contracts" }),
});
const RejectBody = z.object({ reason: z.string().trim().max(500).optional() }).openapi("RejectContract");
const one = z.object({ contract: ContractSchema });

export const ready = createRoute({
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

export const reject = createRoute({
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
