import { createRoute, z } from "@hono/zod-openapi";
import { nanoToPrice } from "../domain/money";
import { notFound } from "../lib/errors";
import { createRouter, errors, jsonContent } from "../lib/openapi";
import { PublicNodeSchema, RegionName } from "../nodes/schemas";
import { publicNodeView, queryNodes } from "../nodes/service";
import { regionStub } from "../region/client";
import { knownRegions } from "../region/regions";

const tags = ["Clusters"];
// A malformed name is 400; a well-formed name no node ever registered in is 404, answered from D1
// before any Durable Object is addressed, so probing names creates nothing.
const RegionParam = z.object({ region: RegionName.openapi({ param: { name: "region", in: "path" }, example: "eu-west" }) });

const ClusterSchema = z
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

type Rollup = Awaited<ReturnType<ReturnType<typeof regionStub>["rollup"]>>;

async function rollupOf(env: Parameters<typeof regionStub>[0], region: string): Promise<Rollup> {
  return regionStub(env, region).rollup(region) as Promise<Rollup>;
}

async function centerOf(env: Parameters<typeof regionStub>[0], region: string, r: Rollup) {
  if (r.center) return r.center;
  const row = await env.DB.prepare(`SELECT center_lat, center_lng FROM clusters WHERE region = ?`).bind(region).first<{ center_lat: number | null; center_lng: number | null }>();
  return row?.center_lat != null && row.center_lng != null ? { lat: row.center_lat, lng: row.center_lng } : null;
}

const list = createRoute({
  method: "get",
  path: "/api/clusters",
  tags,
  summary: "Each region's roll-up, from its Durable Object (nodes that are not offline; public)",
  responses: { 200: jsonContent(z.object({ clusters: z.array(ClusterSchema) }), "Regions") },
});

const nodesOf = createRoute({
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

const stats = createRoute({
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
        contracts: z.object({ pending: z.number().int(), active: z.number().int(), completed: z.number().int(), failed: z.number().int(), cancelled: z.number().int() }),
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

async function assertRegion(env: Parameters<typeof regionStub>[0], region: string) {
  const known = await env.DB.prepare(`SELECT 1 AS x FROM clusters WHERE region = ?`).bind(region).first();
  if (!known) throw notFound("region");
}

export const clustersRouter = createRouter()
  .openapi(list, async (c) => {
    const regions = await knownRegions(c.env);
    const rollups = await Promise.all(regions.map((r) => rollupOf(c.env, r)));
    const clusters = [];
    for (const r of rollups) {
      if (r.totalNodes === 0) continue;
      clusters.push({
        region: r.region,
        center: await centerOf(c.env, r.region, r),
        total_nodes: r.totalNodes,
        node_composition: r.composition,
        total_ram_gb: r.totalRamGb,
        available_ram_gb: r.availableRamGb,
        total_vram_gb: r.totalVramGb,
        available_vram_gb: r.availableVramGb,
        avg_price_per_gb_sec: nanoToPrice(r.avgPriceNano),
      });
    }
    return c.json({ clusters }, 200);
  })
  .openapi(nodesOf, async (c) => {
    const { region } = c.req.valid("param");
    const q = c.req.valid("query");
    await assertRegion(c.env, region);
    const page = await queryNodes(c.env, { region, notOffline: true }, q.limit, q.offset);
    return c.json({ nodes: page.nodes.map(publicNodeView), total_count: page.total_count }, 200);
  })
  .openapi(stats, async (c) => {
    const { region } = c.req.valid("param");
    await assertRegion(c.env, region);
    const r = await rollupOf(c.env, region);
    const counts = await c.env.DB.prepare(`SELECT status, COUNT(*) AS n FROM contracts WHERE region = ? GROUP BY status`).bind(region).all<{ status: string; n: number }>();
    const byStatus = { pending: 0, active: 0, completed: 0, failed: 0, cancelled: 0 } as Record<string, number>;
    for (const x of counts.results) byStatus[x.status] = x.n;
    const interval = Math.max(1, Number(c.env.HEARTBEAT_MIN_INTERVAL_SEC ?? 30) || 30);
    const late = await c.env.DB.prepare(`SELECT COUNT(*) AS n FROM nodes WHERE region = ? AND status != 'offline' AND last_heartbeat_at < ?`)
      .bind(region, Date.now() - 2 * interval * 1000)
      .first<{ n: number }>();
    const p = r.prices;
    return c.json(
      {
        region,
        utilization: {
          ram_pct: r.totalRamGb ? Math.round((r.heldRamGb / r.totalRamGb) * 10000) / 100 : 0,
          vram_pct: r.totalVramGb ? Math.round((r.heldVramGb / r.totalVramGb) * 10000) / 100 : 0,
          held_ram_gb: r.heldRamGb,
          held_vram_gb: r.heldVramGb,
        },
        contracts: byStatus as { pending: number; active: number; completed: number; failed: number; cancelled: number },
        price_spread: p.length ? { min: nanoToPrice(p[0]), p50: nanoToPrice(p[Math.floor((p.length - 1) / 2)]), max: nanoToPrice(p[p.length - 1]), avg: nanoToPrice(r.avgPriceNano) } : null,
        heartbeat_health: { nodes_by_status: r.byStatus, last_heartbeat_at: r.lastHeartbeatAt ? new Date(r.lastHeartbeatAt).toISOString() : null, late_nodes: late?.n ?? 0 },
      },
      200,
    );
  });
