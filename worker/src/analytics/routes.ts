import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../lib/auth";
import { errors, jsonContent, security } from "../lib/openapi";
import { MAX_BUCKETS, type Bucket } from "./service";
import { WindowQuery } from "./window";
import { RegionName } from "../nodes/schemas";

export const tags = ["Analytics"];

export const auth = [...security.bearer];

export const BucketParam = z
  .enum(["hour", "day"])
  .default("day")
  .openapi({ description: "Bucket size; buckets are aligned to UTC hours/days" });

export const SeriesQuery = WindowQuery.extend({ bucket: BucketParam });

export const Point = z.object({ t: z.string().openapi({ description: "Bucket start (UTC)" }), usd: z.number() });

export const windowNote = `Default window: the last 30 days for bucket=day, the last 24 hours for bucket=hour; at most ${MAX_BUCKETS} buckets. Empty buckets appear with 0.`;

export const nodeEarningsRoute = createRoute({
  method: "get",
  path: "/api/analytics/node/{node_id}/earnings",
  tags,
  security: auth,
  middleware: [requireAuth("provider")] as const,
  summary: "A node's provider earnings over time (owner or admin)",
  description: `Sum of the provider_earning ledger entries of the node's contracts (cost minus the platform fee), by the time they were written. ${windowNote}`,
  request: { params: z.object({ node_id: z.uuid().openapi({ param: { name: "node_id", in: "path" } }) }), query: SeriesQuery },
  responses: {
    200: jsonContent(
      z.object({
        node_id: z.uuid(),
        bucket: z.enum(["hour", "day"]),
        from: z.string(),
        to: z.string(),
        series: z.array(Point),
        total_usd: z.number(),
      }),
      "The series",
    ),
    ...errors(401, 403, 404),
  },
});

export const clientSpendingRoute = createRoute({
  method: "get",
  path: "/api/analytics/client/{client_id}/spending",
  tags,
  security: auth,
  middleware: [requireAuth()] as const,
  summary: "A renter's spending over time and by node (owner or admin)",
  description: `Spending is what was charged (settlements, and outstanding costs collected later), not what is held. ${windowNote} For anyone but the client's own user or an admin the client does not exist (404).`,
  request: { params: z.object({ client_id: z.uuid().openapi({ param: { name: "client_id", in: "path" } }) }), query: SeriesQuery },
  responses: {
    200: jsonContent(
      z.object({
        client_id: z.uuid(),
        bucket: z.enum(["hour", "day"]),
        from: z.string(),
        to: z.string(),
        series: z.array(Point),
        total_usd: z.number(),
        by_node: z.array(
          z.object({
            node_id: z.uuid(),
            node_name: z.string().nullable(),
            region: z.string().nullable(),
            usd: z.number(),
            contracts: z.number().int(),
          }),
        ),
      }),
      "The series and the breakdown by node, largest first",
    ),
    ...errors(401, 404),
  },
});

export const Gb = z.object({ ram_gb: z.number().int(), vram_gb: z.number().int() });

export const supplyRoute = createRoute({
  method: "get",
  path: "/api/analytics/market/supply",
  tags,
  summary: "Supply and demand by region: capacity offered, reserved and requested",
  description:
    "offered: total memory of the region's nodes that are not offline (and what active nodes last reported free); reserved: memory held now by pending and active contracts; requested: memory of the contracts created in the window (default: the last 24 hours) — demand that found a node. utilisation_pct = reserved / offered. Public, like /api/clusters.",
  request: { query: WindowQuery },
  responses: {
    200: jsonContent(
      z.object({
        from: z.string(),
        to: z.string(),
        regions: z.array(
          z.object({
            region: z.string(),
            nodes: z.number().int(),
            offered: Gb.extend({ reported_free_ram_gb: z.number().int(), reported_free_vram_gb: z.number().int() }),
            reserved: Gb.extend({ contracts: z.number().int() }),
            requested: Gb.extend({ contracts: z.number().int() }),
            utilisation_pct: z.number(),
          }),
        ),
      }),
      "By region",
    ),
    ...errors(),
  },
});

export const Price = z.number().nullable();

export const pricingRoute = createRoute({
  method: "get",
  path: "/api/analytics/market/pricing",
  tags,
  summary: "Price trend: contracted prices per bucket, and the current offered prices",
  description: `series: per bucket, the GB-weighted average price of the contracts created in it (Σ price × GB / Σ GB, rounded half-up to the nano-USD), their min and max, count and GB (null prices where no contract was made). current: the simple average, min and max of the active nodes' offered prices. Optionally one region. Public. ${windowNote}`,
  request: {
    query: SeriesQuery.extend({
      region: RegionName.optional().openapi({ description: "Only this region; a well-formed name with no nodes gives an empty series" }),
    }),
  },
  responses: {
    200: jsonContent(
      z.object({
        region: z.string().nullable(),
        bucket: z.enum(["hour", "day"]),
        from: z.string(),
        to: z.string(),
        series: z.array(
          z.object({
            t: z.string(),
            avg_price_per_gb_sec: Price,
            min_price_per_gb_sec: Price,
            max_price_per_gb_sec: Price,
            contracts: z.number().int(),
            gb: z.number().int(),
          }),
        ),
        current: z.object({
          active_nodes: z.number().int(),
          avg_price_per_gb_sec: Price,
          min_price_per_gb_sec: Price,
          max_price_per_gb_sec: Price,
        }),
      }),
      "The trend",
    ),
    ...errors(),
  },
});
