import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../lib/auth";
import { IdParam, errors, jsonBody, jsonContent, security } from "../lib/openapi";
import { NodeViewSchema } from "../views/nodes";
import * as s from "./schemas";

const tags = ["Contracts"];
const auth = [...security.bearer];
const one = z.object({ contract: s.ContractSchema });

export const createContract = createRoute({
  method: "post",
  path: "/api/contracts/create",
  tags,
  security: auth,
  middleware: [requireAuth("user")] as const,
  summary: "Reserve capacity on a node and hold the estimated cost",
  description:
    "The node's capacity is reserved atomically in its region's Durable Object: concurrent requests can never together reserve more than the node has (409 insufficient_capacity for the losers). The estimated cost (GB × duration × price) is held from the balance (402 insufficient_funds, or budget_exceeded past the monthly budget). The contract is pending until its node, told at once over its push channel (heartbeats are the fallback), opens the lease and calls ready: then it is active, and its term and billing start. A contract not made ready within LEASE_READY_TIMEOUT_SEC (default 60), or rejected by the node, is failed over to another node and never charged.",
  request: { body: jsonBody(s.CreateContractBody) },
  responses: { 201: jsonContent(one, "The pending contract"), ...errors(401, 402, 403, 404, 409) },
});

export const listContracts = createRoute({
  method: "get",
  path: "/api/contracts",
  tags,
  security: auth,
  middleware: [requireAuth()] as const,
  summary: "Contracts the caller may see: a renter their own, a provider those on their nodes, an admin all",
  request: { query: s.ListContractsQuery },
  responses: {
    200: jsonContent(
      z.object({ contracts: z.array(s.ContractSchema), total_count: z.number().int() }),
      "A page of contracts, newest first",
    ),
    ...errors(401),
  },
});

export const getContract = createRoute({
  method: "get",
  path: "/api/contracts/{id}",
  tags,
  security: auth,
  middleware: [requireAuth()] as const,
  summary: "A contract with its node and the node's latest heartbeat",
  request: { params: IdParam },
  responses: {
    200: jsonContent(
      z.object({
        contract: s.ContractSchema,
        node: NodeViewSchema.nullable().openapi({
          description: "The full node for its owner and admins; the public view (PublicNode) for the renter",
        }),
        metrics: z
          .object({
            recorded_at: z.string(),
            available_ram_gb: z.number(),
            available_vram_gb: z.number(),
            cpu_usage_pct: z.number().nullable(),
            gpu_usage_pct: z.number().nullable(),
            temperature_c: z.number().nullable(),
            bandwidth_mbps: z.number().nullable(),
          })
          .nullable(),
      }),
      "The contract",
    ),
    ...errors(401, 404),
  },
});

export const settleContract = createRoute({
  method: "post",
  path: "/api/contracts/{id}/settle",
  tags,
  security: auth,
  middleware: [requireAuth("user")] as const,
  summary: "End the contract now, release its capacity and queue settlement",
  description:
    "The final cost is for the time actually held (per started second, at least the offer's minimum, at most the term) plus egress at the offer's price. Egress is what the node measured (its lease's `bytes_out`, GB = 2^30 bytes, cost rounded up to the micro-USD): settlement waits up to LEASE_REPORT_WAIT_SEC (default 120) after the end for the node's end-of-lease receipt (a delayed queue retry, so the answer here is immediate and `charged_usd` is set later), then uses the last counters the node reported; `actual_egress_gb` from the renter counts only where the node reported nothing. Settling twice is harmless and answers the same contract.",
  request: { params: IdParam, body: { required: false, content: { "application/json": { schema: s.SettleBody } } } },
  responses: { 200: jsonContent(one, "The ended contract"), ...errors(401, 403, 404, 409) },
});

export const extendContract = createRoute({
  method: "post",
  path: "/api/contracts/{id}/extend",
  tags,
  security: auth,
  middleware: [requireAuth("user")] as const,
  summary: "Add time to a running contract, holding its cost, within the offer's maximum duration",
  request: { params: IdParam, body: jsonBody(s.ExtendBody) },
  responses: { 200: jsonContent(one, "The extended contract"), ...errors(401, 402, 403, 404, 409) },
});

export const cancelContract = createRoute({
  method: "post",
  path: "/api/contracts/{id}/cancel",
  tags,
  security: auth,
  middleware: [requireAuth("user")] as const,
  summary: "Cancel a pending contract; its hold is released",
  request: { params: IdParam },
  responses: { 200: jsonContent(one, "The cancelled contract"), ...errors(401, 403, 404, 409) },
});
