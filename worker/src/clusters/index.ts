import { createRouter } from "../lib/openapi";
import * as h from "./handlers";
import * as r from "./routes";

export const clustersRouter = createRouter().openapi(r.list, h.list).openapi(r.nodesOf, h.nodesOf).openapi(r.stats, h.stats);
