import { createRouter } from "../lib/openapi";
import * as h from "./handlers";
import * as r from "./routes";

export const paymentsRouter = createRouter()
  .openapi(r.createPayment, h.createPayment)
  .openapi(r.cryptoPayment, h.cryptoPayment)
  .openapi(r.invoice, h.invoice)
  .openapi(r.webhook, h.webhook)
  .openapi(r.createWallet, h.createWallet)
  .openapi(r.verifyWallet, h.verifyWallet)
  .openapi(r.listWallets, h.listWallets);
