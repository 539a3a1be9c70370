import { caller } from "../lib/auth";
import { ApiError, notFound } from "../lib/errors";
import { BUCKET_MS, clientSpending, marketPricing, marketSupply, nodeEarnings, type Bucket } from "./service";
import { parseWindow } from "./window";
import type { AppRouteHandler } from "../lib/openapi";
import type * as routes from "./routes";
import { findClient } from "../db/clients";
import { nodeAccess } from "../db/nodes";

/** The default window of a series: 30 buckets of a day, or 24 of an hour. */
const defaultFrom = (bucket: Bucket) => (to: number) => to - (bucket === "day" ? 30 : 24) * BUCKET_MS[bucket];

export const nodeEarningsRoute: AppRouteHandler<typeof routes.nodeEarningsRoute> = async (c) => {
  const { node_id } = c.req.valid("param");
  const q = c.req.valid("query");
  const me = caller(c);
  const node = await nodeAccess(c.env.DB, node_id);
  if (!node) throw notFound("node");
  if (me.role !== "admin" && node.provider_id !== me.id) throw new ApiError("forbidden", "only the node's provider can see its earnings");
  const { from, to } = parseWindow(q, defaultFrom(q.bucket));
  return c.json(await nodeEarnings(c.env, node_id, from, to, q.bucket), 200);
};

export const clientSpendingRoute: AppRouteHandler<typeof routes.clientSpendingRoute> = async (c) => {
  const { client_id } = c.req.valid("param");
  const q = c.req.valid("query");
  const me = caller(c);
  const client = await findClient(c.env.DB, client_id);
  if (!client || (me.role !== "admin" && client.user_id !== me.id)) throw notFound("client");
  const { from, to } = parseWindow(q, defaultFrom(q.bucket));
  return c.json(await clientSpending(c.env, client, from, to, q.bucket), 200);
};

export const supply: AppRouteHandler<typeof routes.supplyRoute> = async (c) => {
  const { from, to } = parseWindow(c.req.valid("query"), (to) => to - BUCKET_MS.day);
  return c.json(await marketSupply(c.env, from, to), 200);
};

export const pricing: AppRouteHandler<typeof routes.pricingRoute> = async (c) => {
  const q = c.req.valid("query");
  const { from, to } = parseWindow(q, defaultFrom(q.bucket));
  return c.json(await marketPricing(c.env, q.region, from, to, q.bucket), 200);
};
