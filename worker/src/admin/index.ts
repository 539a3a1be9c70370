import { createRouter } from "../lib/openapi";
import * as h from "./handlers";
import * as r from "./routes";

export const adminRouter = createRouter().openapi(r.credits, h.credits);

export const adminOverviewRouter = createRouter().openapi(r.overview, h.overview);
