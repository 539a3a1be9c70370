import { caller } from "../lib/auth";
import { notFound } from "../lib/errors";
import { createRouter } from "../lib/openapi";
import { microToUsd } from "../domain/money";
import { monthStart, parseWindow } from "../analytics/window";
import { payWithCrypto } from "./crypto";
import { buildInvoice, invoiceHtml } from "./invoice";
import * as r from "./routes";
import { createTopup, receiveWebhook } from "./stripe";
import { transactionView } from "./transactions";

export const paymentsRouter = createRouter()
  .openapi(r.createPayment, async (c) => {
    const b = c.req.valid("json");
    const { transaction, collectedMicro } = await createTopup(c.env, caller(c).id, {
      contractId: b.contract_id,
      amountUsd: b.amount_usd,
      stripeToken: b.stripe_token,
      idempotencyHeader: c.req.valid("header")["idempotency-key"],
    });
    return c.json({ transaction: transactionView(transaction), collected_usd: microToUsd(collectedMicro) }, 201);
  })
  .openapi(r.cryptoPayment, async (c) => {
    const b = c.req.valid("json");
    const res = await payWithCrypto(c.env, caller(c).id, { contractId: b.contract_id, blockchain: b.blockchain, txHash: b.tx_hash, walletAddress: b.wallet_address, amountUsd: b.amount_usd });
    const body = { transaction: transactionView(res.transaction), confirmations: res.confirmations, required_confirmations: res.requiredConfirmations, failure_reason: res.failureReason };
    return res.created ? c.json(body, 201) : c.json(body, 200);
  })
  .openapi(r.invoice, async (c) => {
    const { client_id } = c.req.valid("param");
    const q = c.req.valid("query");
    const me = caller(c);
    const client = await c.env.DB.prepare(`SELECT c.id, c.user_id, c.org_name, u.email, u.full_name FROM clients c JOIN users u ON u.id = c.user_id WHERE c.id = ?`)
      .bind(client_id)
      .first<{ id: string; user_id: string; org_name: string | null; email: string; full_name: string | null }>();
    if (!client || (me.role !== "admin" && client.user_id !== me.id)) throw notFound("client");
    const { from, to } = parseWindow(q, (to) => monthStart(to - 1));
    const inv = await buildInvoice(c.env, client, from, to);
    if (q.format === "html") return c.html(invoiceHtml(inv), 200) as never;
    return c.json({ invoice: inv }, 200);
  })
  .openapi(r.webhook, async (c) => c.json(await receiveWebhook(c.env, await c.req.text(), c.req.header("stripe-signature")), 200));
