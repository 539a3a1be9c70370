import { createRoute, z } from "@hono/zod-openapi";
import { errors, jsonContent } from "../lib/openapi";
import { RegionName } from "../nodes/schemas";
import { PublicNodeSchema } from "../views/nodes";

export const tags = ["Clusters"];

// A malformed name is 400; a well-formed name no node ever registered in is 404, answered from D1
// before any Durable Object is addressed, so probing names creates nothing.
export const RegionParam = z.object({ region: RegionName.openapi({ param: { name: "region", in: "path" }, example: "eu-west" }) });

export const ClusterSchema = z
  .object({
    region: z.string(),
    center: z.object({ lat: z.number(), lng: z.number() }).nullable(),
    total_nodes: z.number().int(),
    node_composition: z.object({ datacenter: z.number().int(), edge_cluster: z.number().int(), mist_node: z.number().int() }),
    total_ram_gb: z.number().int(),
    available_ram_gb: z.number().int(),
    total_vram_gb: z.number().int(),
    available_vram_gb: z.number().int(),
    avg_price_per_gb_sec: z.number(),
  })
  .openapi("Cluster");

export const list = createRoute({
  method: "get",
  path: "/api/clusters",
  tags,
  summary: "Each region's roll-up, from its Durable Object (nodes that are not offline; public)",
  responses: { 200: jsonContent(z.object({ clusters: z.array(ClusterSchema) }), "Regions") },
});

export const nodesOf = createRoute({
  method: "get",
  path: "/api/clusters/{region}/nodes",
  tags,
  summary: "The region's nodes that are not offline (public)",
  description: "Public: each node in the public view (PublicNode), never its provider_id, metadata or endpoint. An unknown region is 404.",
  request: {
    params: RegionParam,
    query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50), offset: z.coerce.number().int().min(0).default(0) }),
  },
  responses: { 200: jsonContent(z.object({ nodes: z.array(PublicNodeSchema), total_count: z.number().int() }), "Nodes"), ...errors(404) },
});

export const stats = createRoute({
  method: "get",
  path: "/api/clusters/{region}/stats",
  tags,
  summary: "Utilisation, contract counts, price spread and heartbeat health of a region (public)",
  request: { params: RegionParam },
  responses: {
    200: jsonContent(
      z.object({
        region: z.string(),
        utilization: z.object({ ram_pct: z.number(), vram_pct: z.number(), held_ram_gb: z.number().int(), held_vram_gb: z.number().int() }),
        contracts: z.object({
          pending: z.number().int(),
          active: z.number().int(),
          completed: z.number().int(),
          failed: z.number().int(),
          cancelled: z.number().int(),
        }),
        price_spread: z.object({ min: z.number(), p50: z.number(), max: z.number(), avg: z.number() }).nullable(),
        heartbeat_health: z.object({
          nodes_by_status: z.object({ active: z.number().int(), maintenance: z.number().int(), offline: z.number().int() }),
          last_heartbeat_at: z.string().nullable(),
          late_nodes: z.number().int().openapi({ description: "Not-offline nodes silent for more than two heartbeat intervals" }),
        }),
      }),
      "Stats",
    ),
    ...errors(404),
  },
});
