import type { OpenAPIHono } from "@hono/zod-openapi";
import { createRouter, type AppBindings } from "../lib/openapi";
import { OPENAPI_DESCRIPTION } from "./description";
import * as h from "./handlers";
import * as r from "./routes";

export const opsRouter = createRouter().openapi(r.health, h.health).openapi(r.metrics, h.metrics);

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
