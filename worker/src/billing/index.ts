import { createRouter } from "../lib/openapi";
import * as h from "./handlers";
import * as r from "./routes";

export const billingRouter = createRouter().openapi(r.balance, h.balance).openapi(r.ledger, h.ledger).openapi(r.verify, h.verify);
