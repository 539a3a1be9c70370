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

// The node's side of its contracts, mounted last (app.ts) so the document keeps its order.
export const nodeContractsRouter = createRouter()
  .openapi(r.ready, h.ready)
  .openapi(r.reject, h.reject)
  .get("/ws/nodes/:node_id", h.pushChannel);
