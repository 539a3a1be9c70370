import { createRouter } from "../lib/openapi";
import * as h from "./handlers";
import * as r from "./routes";

export const leasesRouter = createRouter().openapi(r.jwks, h.jwks).openapi(r.lease, h.lease);
