/**
 * GET /ws/{client_id}: a WebSocket held by a region Durable Object (hibernation API). The token
 * comes in `?token=` or, for browsers that should keep tokens out of URLs, as a subprotocol:
 * `new WebSocket(url, ["bearer", token])`. The socket lives on the region named by `?region=`,
 * else the renter's default region, else the shared "global" hub; contract_update messages are sent
 * to the contract's region and to the renter's home region, market_update to everyone on a region.
 */
import { Hono } from "hono";
import type { AppBindings } from "../lib/openapi";
import { ApiError } from "../lib/errors";
import { verifyAccessToken } from "../lib/auth";
import { regionStub } from "../region/client";
import { regionExists } from "../db/clusters";
import { clientOwnerAndRegion } from "../db/clients";

export const realtimeRouter = new Hono<AppBindings>().get("/ws/:client_id", async (c) => {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket")
    throw new ApiError("validation_failed", "this endpoint needs a WebSocket upgrade", [
      { field: "upgrade", message: "must be websocket" },
    ]);
  const offered = (c.req.header("sec-websocket-protocol") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const token = c.req.query("token") ?? offered.find((p) => p.split(".").length === 3);
  if (!token) throw new ApiError("unauthenticated", "send the access token as ?token= or as a WebSocket subprotocol");
  const user = await verifyAccessToken(c.env, token);
  if (!user) throw new ApiError("unauthenticated", "invalid or expired token");
  const clientId = c.req.param("client_id");
  const client = await clientOwnerAndRegion(c.env.DB, clientId);
  if (!client || (client.user_id !== user.id && user.role !== "admin")) throw new ApiError("not_found", "client not found");
  const region = c.req.query("region") ?? client.default_region ?? "global";
  // Only an existing region (or the shared hub) has an object to hold the socket: an invented
  // name is 404 and wakes nothing.
  if (region !== "global" && !(await regionExists(c.env.DB, region))) throw new ApiError("not_found", "region not found");
  const headers = new Headers(c.req.raw.headers);
  headers.set("x-mnemo-user-id", client.user_id);
  headers.set("x-mnemo-region", region);
  if (offered.includes("bearer")) headers.set("x-mnemo-protocol", "bearer");
  return regionStub(c.env, region).fetch(new Request(c.req.url, { headers }));
});
