import { createRouter } from "../lib/openapi";
import * as h from "./handlers";
import * as r from "./routes";

export const nodesRouter = createRouter()
  .openapi(r.registerNode, h.registerNode)
  .openapi(r.heartbeat, h.heartbeat)
  .openapi(r.listNodes, h.listNodes)
  .openapi(r.getNode, h.getNode)
  .openapi(r.updateNode, h.updateNode)
  .openapi(r.deleteNode, h.deleteNode);
