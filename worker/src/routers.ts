// Resource routers beyond the foundation, mounted by createApp in this order.
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppBindings } from "./lib/openapi";
import { paymentsRouter } from "./payments";
import { payoutsRouter } from "./payouts";
import { analyticsRouter } from "./analytics";
import { adminOverviewRouter } from "./admin/overview";
import { nodePushRouter } from "./nodes/push";
import { nodeReadyRouter } from "./nodes/ready";

export const extraRouters: OpenAPIHono<AppBindings>[] = [paymentsRouter, payoutsRouter, analyticsRouter, adminOverviewRouter, nodeReadyRouter, nodePushRouter];
