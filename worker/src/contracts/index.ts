import { createRouter } from "../lib/openapi";
import * as h from "./handlers";
import * as r from "./routes";

export const contractsRouter = createRouter()
  .openapi(r.createContract, h.createContract)
  .openapi(r.listContracts, h.listContracts)
  .openapi(r.getContract, h.getContract)
  .openapi(r.settleContract, h.settleContract)
  .openapi(r.extendContract, h.extendContract)
  .openapi(r.cancelContract, h.cancelContract);
