import { createRoute, z } from "@hono/zod-openapi";
import { jsonContent } from "../lib/openapi";

export const health = createRoute({
  method: "get",
  path: "/health",
  tags: ["Operations"],
  summary: "Liveness with a database round trip",
  responses: {
    200: jsonContent(z.object({ status: z.literal("ok"), database: z.literal("ok"), time: z.string() }), "Healthy"),
    503: jsonContent(z.object({ error: z.object({ code: z.string(), message: z.string() }) }), "Database unreachable"),
  },
});

export const metrics = createRoute({
  method: "get",
  path: "/metrics",
  tags: ["Operations"],
  summary: "Prometheus metrics",
  responses: { 200: { description: "Prometheus text format", content: { "text/plain": { schema: z.string() } } } },
});
