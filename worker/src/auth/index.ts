import { createRouter } from "../lib/openapi";
import * as h from "./handlers";
import * as r from "./routes";

export const authRouter = createRouter()
  .openapi(r.register, h.register)
  .openapi(r.login, h.login)
  .openapi(r.me, h.me)
  .openapi(r.updateClient, h.updateClient)
  .openapi(r.createApiKey, h.createApiKey)
  .openapi(r.listApiKeys, h.listApiKeys)
  .openapi(r.deleteApiKey, h.deleteApiKey);
