import { createRoute, z } from "@hono/zod-openapi";
import { caller, requireAuth } from "../lib/auth";
import { ApiError, notFound } from "../lib/errors";
import { IdParam, createRouter, errors, jsonContent, security } from "../lib/openapi";
import { iso } from "../lib/time";
import { loadContract } from "../contracts/lifecycle";
import { publicKeySet, signLease } from "./keys";

const JwksSchema = z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).openapi("JWKS");

const jwks = createRoute({
  method: "get",
  path: "/.well-known/jwks.json",
  tags: ["Leases"],
  summary: "The platform's public keys for verifying lease tokens (ES256)",
  responses: { 200: jsonContent(JwksSchema, "JSON Web Key Set") },
});

const lease = createRoute({
  method: "get",
  path: "/api/contracts/{id}/lease",
  tags: ["Leases"],
  security: [...security.bearer],
  middleware: [requireAuth()] as const,
  summary: "A signed lease for an active contract, to present to the node",
  description:
    "An ES256 JWT signed by the platform: `sub` the contract, `aud` the node, `client_id`, `ram_gb`, `vram_gb`, valid from the contract's start to its end (nbf/exp). Nodes verify it offline against /.well-known/jwks.json. Only the renter (or an admin) gets it, and only while the contract is active.",
  request: { params: IdParam },
  responses: {
    200: jsonContent(z.object({ lease_token: z.string(), kid: z.string(), node_id: z.uuid(), expires_at: z.string() }), "The lease"),
    ...errors(401, 404, 409),
  },
});

export const leasesRouter = createRouter()
  .openapi(jwks, async (c) => {
    c.header("cache-control", "public, max-age=300");
    return c.json(await publicKeySet(c.env), 200);
  })
  .openapi(lease, async (c) => {
    const me = caller(c);
    const k = await loadContract(c.env, c.req.valid("param").id);
    if (me.role !== "admin" && k.clientUserId !== me.id) throw notFound("contract");
    if (k.status !== "active" || k.startTime === null || k.endTime === null || k.endedAt !== null) {
      throw new ApiError("conflict", `a lease exists only while the contract is active; this one is ${k.status}`);
    }
    const { token, kid } = await signLease(c.env, { contractId: k.id, nodeId: k.nodeId, clientId: k.clientId, ramGb: k.ramGb, vramGb: k.vramGb, startMs: k.startTime, endMs: k.endTime });
    return c.json({ lease_token: token, kid, node_id: k.nodeId, expires_at: iso(k.endTime)! }, 200);
  });
