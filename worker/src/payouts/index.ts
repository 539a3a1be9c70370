import { createRouter } from "../lib/openapi";
import * as h from "./handlers";
import * as r from "./routes";

export const payoutsRouter = createRouter()
  .openapi(r.earnings, h.earnings)
  .openapi(r.payoutAccount, h.payoutAccount)
  .openapi(r.payouts, h.payouts);
