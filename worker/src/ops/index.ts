import { createRoute, z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import { contracts, nodes } from "../db/schema";
import { ApiError } from "../lib/errors";
import { renderMetrics } from "../lib/metrics";
import { createRouter, jsonContent, type AppBindings } from "../lib/openapi";
import { OPENAPI_DESCRIPTION } from "./description";

const health = createRoute({
  method: "get",
  path: "/health",
  tags: ["Operations"],
  summary: "Liveness with a database round trip",
  responses: {
    200: jsonContent(z.object({ status: z.literal("ok"), database: z.literal("ok"), time: z.string() }), "Healthy"),
    503: jsonContent(z.object({ error: z.object({ code: z.string(), message: z.string() }) }), "Database unreachable"),
  },
});

const metrics = createRoute({
  method: "get",
  path: "/metrics",
  tags: ["Operations"],
  summary: "Prometheus metrics",
  responses: { 200: { description: "Prometheus text format", content: { "text/plain": { schema: z.string() } } } },
});

export const opsRouter = createRouter()
  .openapi(health, async (c) => {
    try {
      await c.env.DB.prepare("SELECT 1").first();
    } catch {
      throw new ApiError("service_unavailable", "the database is not reachable");
    }
    return c.json({ status: "ok" as const, database: "ok" as const, time: new Date().toISOString() }, 200);
  })
  .openapi(metrics, async (c) => {
    const [byContract, byNode] = await c.var.db.batch([
      c.var.db.select({ status: contracts.status, n: sql<number>`count(*)` }).from(contracts).groupBy(contracts.status),
      c.var.db
        .select({ status: nodes.status, n: sql<number>`count(*)`, ram: sql<number>`coalesce(sum(${nodes.totalRamGb}),0)`, vram: sql<number>`coalesce(sum(${nodes.totalVramGb}),0)` })
        .from(nodes)
        .groupBy(nodes.status),
    ]);
    const text = renderMetrics([
      {
        name: "mnemo_contracts",
        help: "Contracts by status.",
        samples: ["pending", "active", "completed", "failed", "cancelled"].map((s) => ({ labels: { status: s }, value: byContract.find((r) => r.status === s)?.n ?? 0 })),
      },
      {
        name: "mnemo_active_contracts",
        help: "Contracts holding capacity now (pending or active).",
        samples: [{ labels: {}, value: byContract.filter((r) => r.status === "pending" || r.status === "active").reduce((a, r) => a + r.n, 0) }],
      },
      {
        name: "mnemo_nodes",
        help: "Nodes by status.",
        samples: ["active", "maintenance", "offline"].map((s) => ({ labels: { status: s }, value: byNode.find((r) => r.status === s)?.n ?? 0 })),
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
  });

/** The OpenAPI 3.1 document and its interactive reference (Swagger UI, served from our own assets: no CDN). */
export function mountDocs(app: OpenAPIHono<AppBindings>) {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", { type: "http", scheme: "bearer", bearerFormat: "JWT" });
  app.openAPIRegistry.registerComponent("securitySchemes", "apiKey", { type: "apiKey", in: "header", name: "X-API-Key" });
  app.doc31("/api/openapi.json", (c) => ({
    openapi: "3.1.0",
    info: { title: "Mnemo API", version: "1.0.0", description: OPENAPI_DESCRIPTION },
    servers: [{ url: new URL(c.req.url).origin }],
  }));
  app.get("/docs", (c) =>
    c.html(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Mnemo API reference</title><link rel="stylesheet" href="/vendor/swagger-ui/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#swagger-ui", deepLinking: true, persistAuthorization: false });</script>
</body></html>`),
  );
}
