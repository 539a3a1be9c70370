import { sql } from "drizzle-orm";
import { contracts, nodes } from "../db/schema";
import { ApiError } from "../lib/errors";
import { renderMetrics } from "../lib/metrics";
import type { AppRouteHandler } from "../lib/openapi";
import type * as routes from "./routes";

export const health: AppRouteHandler<typeof routes.health> = async (c) => {
  try {
    await c.env.DB.prepare("SELECT 1").first();
  } catch {
    throw new ApiError("service_unavailable", "the database is not reachable");
  }
  return c.json({ status: "ok" as const, database: "ok" as const, time: new Date().toISOString() }, 200);
};

export const metrics: AppRouteHandler<typeof routes.metrics> = async (c) => {
  const [byContract, byNode] = await c.var.db.batch([
    c.var.db.select({ status: contracts.status, n: sql<number>`count(*)` }).from(contracts).groupBy(contracts.status),
    c.var.db
      .select({
        status: nodes.status,
        n: sql<number>`count(*)`,
        ram: sql<number>`coalesce(sum(${nodes.totalRamGb}),0)`,
        vram: sql<number>`coalesce(sum(${nodes.totalVramGb}),0)`,
      })
      .from(nodes)
      .groupBy(nodes.status),
  ]);
  const text = renderMetrics([
    {
      name: "mnemo_contracts",
      help: "Contracts by status.",
      samples: ["pending", "active", "completed", "failed", "cancelled"].map((s) => ({
        labels: { status: s },
        value: byContract.find((r) => r.status === s)?.n ?? 0,
      })),
    },
    {
      name: "mnemo_active_contracts",
      help: "Contracts holding capacity now (pending or active).",
      samples: [
        { labels: {}, value: byContract.filter((r) => r.status === "pending" || r.status === "active").reduce((a, r) => a + r.n, 0) },
      ],
    },
    {
      name: "mnemo_nodes",
      help: "Nodes by status.",
      samples: ["active", "maintenance", "offline"].map((s) => ({
        labels: { status: s },
        value: byNode.find((r) => r.status === s)?.n ?? 0,
      })),
    },
    {
      name: "mnemo_node_capacity_gb",
      help: "Total memory of nodes that are not offline, by kind.",
      samples: [
        { labels: { kind: "ram" }, value: byNode.filter((r) => r.status !== "offline").reduce((a, r) => a + r.ram, 0) },
        { labels: { kind: "vram" }, value: byNode.filter((r) => r.status !== "offline").reduce((a, r) => a + r.vram, 0) },
      ],
    },
  ]);
  return c.text(text, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
};
