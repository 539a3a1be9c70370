import { createRouter } from "../lib/openapi";
import * as h from "./handlers";
import * as r from "./routes";

export const analyticsRouter = createRouter()
  .openapi(r.nodeEarningsRoute, h.nodeEarningsRoute)
  .openapi(r.clientSpendingRoute, h.clientSpendingRoute)
  .openapi(r.supplyRoute, h.supply)
  .openapi(r.pricingRoute, h.pricing);
