import { HTTPException } from "hono/http-exception";
import { cors } from "hono/cors";
import { bodyLimit } from "hono/body-limit";
import { matchedRoutes } from "hono/route";
import { config } from "./env";
import { createDb } from "./db/client";
import { ApiError, errorBody } from "./lib/errors";
import { recordRequest } from "./lib/metrics";
import { createRouter } from "./lib/openapi";
import { authRouter } from "./auth";
import { nodeContractsRouter, nodesRouter } from "./nodes";
import { contractsRouter } from "./contracts";
import { billingRouter } from "./billing";
import { adminOverviewRouter, adminRouter } from "./admin";
import { marketplaceRouter } from "./marketplace";
import { clustersRouter } from "./clusters";
import { realtimeRouter } from "./realtime";
import { leasesRouter } from "./leases";
import { opsRouter, mountDocs } from "./ops";
import { paymentsRouter } from "./payments";

import { payoutsRouter } from "./payouts";
import { analyticsRouter } from "./analytics";

/** The label a request is counted under: the matched route pattern, never the raw path. */
function routeLabel(c: Parameters<typeof matchedRoutes>[0]): string {
  const routes = matchedRoutes(c).filter((r) => r.method !== "ALL");
  return routes.at(-1)?.path ?? "unmatched";
}

/**
 * Every resource router, mounted in this order. The order is the order of paths in the OpenAPI
 * document (agent/src/client/openapi.json), so a new router goes at the end.
 */
const routers = [
  opsRouter,
  authRouter,
  nodesRouter,
  leasesRouter,
  contractsRouter,
  billingRouter,
  adminRouter,
  marketplaceRouter,
  clustersRouter,
  realtimeRouter,
  paymentsRouter,
  payoutsRouter,
  analyticsRouter,
  adminOverviewRouter,
  nodeContractsRouter,
] as const;

/** The largest request body accepted (API.md: 413 payload_too_large above it). */
export const MAX_BODY_BYTES = 1024 * 1024;

export function createApp() {
  const app = createRouter();

  app.use("*", async (c, next) => {
    const started = Date.now();
    c.set("db", createDb(c.env.DB));
    c.set("requestId", c.req.header("cf-ray") ?? crypto.randomUUID());
    await next();
    recordRequest(c.req.method, routeLabel(c), c.res.status, Date.now() - started);
  });

  // No request body over 1 MiB is read, let alone parsed: a declared content-length over the limit
  // is refused at once, and a chunked body is counted as it streams in and refused past the limit.
  app.use(
    "*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => c.json(errorBody("payload_too_large", `request bodies are limited to 1 MiB (${MAX_BODY_BYTES} bytes)`), 413),
    }),
  );

  // Browsers on other origins only where CORS_ORIGINS allows; the site itself is same-origin.
  app.use("/api/*", async (c, next) => {
    const allowed = config(c.env).corsOrigins;
    return cors({
      origin: (origin) => (allowed.includes("*") ? origin : allowed.includes(origin) ? origin : null),
      allowHeaders: ["Authorization", "Content-Type", "X-API-Key", "Idempotency-Key"],
      allowMethods: ["GET", "POST", "PUT", "DELETE", "OPTIONS"],
      exposeHeaders: ["Retry-After"],
      maxAge: 600,
    })(c, next);
  });

  for (const r of routers) app.route("/", r);
  mountDocs(app);

  app.notFound((c) => c.json(errorBody("not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`), 404));

  // The one error path: every failure leaves here in the envelope of API.md.
  app.onError((err, c) => {
    if (err instanceof ApiError) {
      if (err.headers) for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
      return c.json(errorBody(err.code, err.message, err.details), err.status);
    }
    if (err instanceof HTTPException) {
      const status = err.status;
      if (status === 400) {
        // Hono's JSON validator: the body was not parseable JSON.
        return c.json(
          errorBody("validation_failed", "malformed JSON in request body", [{ field: "body", message: "must be valid JSON" }]),
          400,
        );
      }
      const code =
        status === 401
          ? "unauthenticated"
          : status === 403
            ? "forbidden"
            : status === 404
              ? "not_found"
              : status === 413
                ? "payload_too_large"
                : status === 405
                  ? "method_not_allowed"
                  : "internal_error";
      return c.json(errorBody(code, err.message || code), status === 500 ? 500 : status);
    }
    console.error(
      JSON.stringify({
        level: "error",
        request_id: c.get("requestId"),
        path: new URL(c.req.url).pathname,
        error: String((err as Error)?.stack ?? err),
      }),
    );
    return c.json(errorBody("internal_error", "something went wrong on our side; it has been logged"), 500);
  });

  return app;
}

export type App = ReturnType<typeof createApp>;
