// Resource routers beyond the foundation, mounted by createApp in this order.
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppBindings } from "./lib/openapi";

export const extraRouters: OpenAPIHono<AppBindings>[] = [];
