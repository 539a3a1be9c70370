import { createRouter } from "../lib/openapi";
import * as h from "./handlers";
import * as r from "./routes";

export const marketplaceRouter = createRouter().openapi(r.browse, h.browse).openapi(r.request, h.request);
