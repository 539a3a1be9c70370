import { regionExists, storedCenterOf } from "../db/clusters";
import { contractCountsByStatusInRegion } from "../db/contracts";
import { lateNodeCountInRegion } from "../db/nodes";
import { config } from "../env";
import { spreadOf, utilisationPct, type RegionRollup } from "../domain/rollup";
import { nanoToPrice } from "../domain/money";
import { notFound } from "../lib/errors";
import { queryNodes } from "../nodes/service";
import { publicNodeView } from "../views/nodes";
import { regionReads, regionStub } from "../region/client";
import { knownRegions } from "../region/regions";
import type { AppRouteHandler } from "../lib/openapi";
import type * as routes from "./routes";

async function rollupOf(env: Parameters<typeof regionStub>[0], region: string): Promise<RegionRollup> {
  return regionReads(env, region).rollup();
}

async function centerOf(env: Parameters<typeof regionStub>[0], region: string, r: RegionRollup) {
  if (r.center) return r.center;
  return storedCenterOf(env.DB, region);
}

async function assertRegion(env: Parameters<typeof regionStub>[0], region: string) {
  if (!(await regionExists(env.DB, region))) throw notFound("region");
}

export const list: AppRouteHandler<typeof routes.list> = async (c) => {
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
};

export const nodesOf: AppRouteHandler<typeof routes.nodesOf> = async (c) => {
  const { region } = c.req.valid("param");
  const q = c.req.valid("query");
  await assertRegion(c.env, region);
  const page = await queryNodes(c.env, { region, notOffline: true }, q.limit, q.offset);
  return c.json({ nodes: page.nodes.map(publicNodeView), total_count: page.total_count }, 200);
};

export const stats: AppRouteHandler<typeof routes.stats> = async (c) => {
  const { region } = c.req.valid("param");
  await assertRegion(c.env, region);
  const r = await rollupOf(c.env, region);
  const counts = await contractCountsByStatusInRegion(c.env.DB, region);
  const byStatus = { pending: 0, active: 0, completed: 0, failed: 0, cancelled: 0 } as Record<string, number>;
  for (const x of counts) byStatus[x.status] = x.n;
  const interval = Math.max(1, config(c.env).heartbeatMinIntervalSec);
  const late = await lateNodeCountInRegion(c.env.DB, region, Date.now() - 2 * interval * 1000);
  const p = spreadOf(r.prices);
  return c.json(
    {
      region,
      utilization: {
        ram_pct: utilisationPct(r.heldRamGb, r.totalRamGb),
        vram_pct: utilisationPct(r.heldVramGb, r.totalVramGb),
        held_ram_gb: r.heldRamGb,
        held_vram_gb: r.heldVramGb,
      },
      contracts: byStatus as { pending: number; active: number; completed: number; failed: number; cancelled: number },
      price_spread: p
        ? { min: nanoToPrice(p.min), p50: nanoToPrice(p.p50), max: nanoToPrice(p.max), avg: nanoToPrice(r.avgPriceNano) }
        : null,
      heartbeat_health: {
        nodes_by_status: r.byStatus,
        last_heartbeat_at: r.lastHeartbeatAt ? new Date(r.lastHeartbeatAt).toISOString() : null,
        late_nodes: late,
      },
    },
    200,
  );
};
