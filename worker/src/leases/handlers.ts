import { caller } from "../lib/auth";
import { ApiError, notFound } from "../lib/errors";
import { iso } from "../lib/time";
import { findContract } from "../db/contracts";
import { nodeEndpoint } from "../db/nodes";
import { publicKeySet, signLease } from "./keys";
import type { AppRouteHandler } from "../lib/openapi";
import type * as routes from "./routes";

export const jwks: AppRouteHandler<typeof routes.jwks> = async (c) => {
  c.header("cache-control", "public, max-age=300");
  return c.json(await publicKeySet(c.env), 200);
};

export const lease: AppRouteHandler<typeof routes.lease> = async (c) => {
  const me = caller(c);
  const k = await findContract(c.env.DB, c.req.valid("param").id);
  if (!k || (me.role !== "admin" && k.clientUserId !== me.id)) throw notFound("contract");
  if (k.status !== "active" || k.startTime === null || k.endTime === null || k.endedAt !== null) {
    throw new ApiError("conflict", `a lease exists only while the contract is active; this one is ${k.status}`);
  }
  const endpoint = await nodeEndpoint(c.env.DB, k.nodeId);
  if (!endpoint) throw new ApiError("conflict", "this contract's node has not published a lease endpoint");
  const { token, kid } = await signLease(c.env, {
    contractId: k.id,
    nodeId: k.nodeId,
    clientId: k.clientId,
    ramGb: k.ramGb,
    vramGb: k.vramGb,
    startMs: k.startTime,
    endMs: k.endTime,
  });
  // A UUID and a JWT (base64url and dots) need no escaping inside the URL's userinfo.
  return c.json(
    {
      lease_token: token,
      kid,
      node_id: k.nodeId,
      expires_at: iso(k.endTime)!,
      endpoint,
      username: k.id,
      password: token,
      url: `redis://${k.id}:${token}@${endpoint}/0`,
      protocol: "resp" as const,
      tls: false,
    },
    200,
  );
};
