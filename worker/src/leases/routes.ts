import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../lib/auth";
import { IdParam, errors, jsonContent, security } from "../lib/openapi";

export const JwksSchema = z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).openapi("JWKS");

export const jwks = createRoute({
  method: "get",
  path: "/.well-known/jwks.json",
  tags: ["Leases"],
  summary: "The platform's public keys for verifying lease tokens (ES256)",
  responses: { 200: jsonContent(JwksSchema, "JSON Web Key Set") },
});

export const lease = createRoute({
  method: "get",
  path: "/api/contracts/{id}/lease",
  tags: ["Leases"],
  security: [...security.bearer],
  middleware: [requireAuth()] as const,
  summary: "A signed lease for an active contract, to present to the node",
  description:
    "Everything a Redis client needs to use the lease: `url` = `redis://<username>:<password>@<endpoint>/0`, where `username` is the contract id, `password` the lease token and `endpoint` the node's lease server (`host:port`, RESP2/RESP3, `tls` false until TLS lands), e.g. `redis-cli -u '<url>' PING`. The token is an ES256 JWT signed by the platform (header `kid`): `iss` \"mnemo\", `sub` the contract, `aud` the node, `client_id`, `ram_gb`, `vram_gb`, `nbf` the contract's start, `exp` the end of its term; nodes verify it offline against /.well-known/jwks.json. Extending the contract gives a new token; connections already open stay valid to the new end. Only the renter (or an admin) gets it, and only while the contract is active (409 otherwise); 409 also when the node has no published endpoint (a node can only make a contract ready once it has one, so this concerns only contracts from before the data plane).",
  request: { params: IdParam },
  responses: {
    200: jsonContent(
      z
        .object({
          lease_token: z.string(),
          kid: z.string(),
          node_id: z.uuid(),
          expires_at: z.string(),
          endpoint: z.string().openapi({ description: "The node's lease server, host:port", example: "203.0.113.7:7379" }),
          username: z.uuid().openapi({ description: "The contract id" }),
          password: z.string().openapi({ description: "The lease token" }),
          url: z.string().openapi({ description: "redis://<username>:<password>@<endpoint>/0" }),
          protocol: z.literal("resp"),
          tls: z.boolean().openapi({ description: "false until TLS lands: use the lease on networks you trust" }),
        })
        .openapi("ContractLease"),
      "The lease",
    ),
    ...errors(401, 404, 409),
  },
});
