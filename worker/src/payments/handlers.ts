import { caller } from "../lib/auth";
import { notFound, ApiError, conflict, invalid } from "../lib/errors";
import { microToUsd } from "../domain/money";
import { monthStart, parseWindow } from "../analytics/window";
import { payWithCrypto } from "./crypto";
import { buildInvoice, invoiceHtml } from "./invoice";
import { createTopup, receiveWebhook } from "./stripe";
import { transactionView } from "./transactions";
import type { AppRouteHandler } from "../lib/openapi";
import { challengeText, recoverPersonalSigner, walletView, type WalletRow } from "./wallets";
import {
  findWallet,
  findWalletOfUser,
  insertEthereumWallet,
  markVerifiedIfUnverified,
  setChallengeIfUnverified,
  walletOfUser,
  walletVerifiedByAnyone,
  walletsOfUser,
} from "../db/wallets";
import type * as routes from "./routes";
import { clientWithUser } from "../db/clients";

export const createPayment: AppRouteHandler<typeof routes.createPayment> = async (c) => {
  const b = c.req.valid("json");
  const { transaction, collectedMicro } = await createTopup(c.env, caller(c).id, {
    contractId: b.contract_id,
    amountUsd: b.amount_usd,
    stripeToken: b.stripe_token,
    idempotencyHeader: c.req.valid("header")["idempotency-key"],
  });
  return c.json({ transaction: transactionView(transaction), collected_usd: microToUsd(collectedMicro) }, 201);
};

export const cryptoPayment: AppRouteHandler<typeof routes.cryptoPayment> = async (c) => {
  const b = c.req.valid("json");
  const res = await payWithCrypto(c.env, caller(c).id, {
    contractId: b.contract_id,
    blockchain: b.blockchain,
    txHash: b.tx_hash,
    walletAddress: b.wallet_address,
    amountUsd: b.amount_usd,
  });
  const body = {
    transaction: transactionView(res.transaction),
    confirmations: res.confirmations,
    required_confirmations: res.requiredConfirmations,
    failure_reason: res.failureReason,
  };
  return res.created ? c.json(body, 201) : c.json(body, 200);
};

export const invoice: AppRouteHandler<typeof routes.invoice> = async (c) => {
  const { client_id } = c.req.valid("param");
  const q = c.req.valid("query");
  const me = caller(c);
  const client = await clientWithUser(c.env.DB, client_id);
  if (!client || (me.role !== "admin" && client.user_id !== me.id)) throw notFound("client");
  const { from, to } = parseWindow(q, (to) => monthStart(to - 1));
  const inv = await buildInvoice(c.env, client, from, to);
  if (q.format === "html") return c.html(invoiceHtml(inv), 200) as never;
  return c.json({ invoice: inv }, 200);
};

export const webhook: AppRouteHandler<typeof routes.webhook> = async (c) =>
  c.json(await receiveWebhook(c.env, await c.req.text(), c.req.header("stripe-signature")), 200);

export const createWallet: AppRouteHandler<typeof routes.createWallet> = async (c) => {
  const b = c.req.valid("json");
  if (b.blockchain !== "ethereum")
    throw new ApiError("unsupported_blockchain", `${b.blockchain} wallets are not supported yet; use ethereum`);
  const me = caller(c);
  const address = b.address.toLowerCase();
  const now = Date.now();
  const existing = await walletOfUser(c.env.DB, me.id, address);
  if (existing?.verified_at) return c.json({ wallet: walletView(existing), challenge: existing.challenge }, 201);
  if (await walletVerifiedByAnyone(c.env.DB, address)) throw conflict("this wallet is already verified by another account");
  const challenge = challengeText(me.id, address, crypto.randomUUID(), now);
  let row: WalletRow;
  if (existing) {
    await setChallengeIfUnverified(c.env.DB, existing.id, challenge);
    row = { ...existing, challenge };
  } else {
    row = { id: crypto.randomUUID(), user_id: me.id, blockchain: "ethereum", address, challenge, verified_at: null, created_at: now };
    await insertEthereumWallet(c.env.DB, row);
  }
  return c.json({ wallet: walletView(row), challenge }, 201);
};

export const verifyWallet: AppRouteHandler<typeof routes.verifyWallet> = async (c) => {
  const { id } = c.req.valid("param");
  const { signature } = c.req.valid("json");
  const me = caller(c);
  const w = await findWalletOfUser(c.env.DB, id, me.id);
  if (!w) throw notFound("wallet");
  if (w.verified_at) return c.json({ wallet: walletView(w) }, 200);
  const signer = recoverPersonalSigner(w.challenge, signature);
  if (signer !== w.address) throw invalid("signature", "is not this wallet's personal_sign signature of the challenge");
  try {
    await markVerifiedIfUnverified(c.env.DB, id, Date.now());
  } catch (e) {
    // The partial unique index: another account verified this address first.
    if (String((e as Error)?.message ?? e).includes("UNIQUE")) throw conflict("this wallet is already verified by another account");
    throw e;
  }
  const fresh = (await findWallet(c.env.DB, id))!;
  return c.json({ wallet: walletView(fresh) }, 200);
};

export const listWallets: AppRouteHandler<typeof routes.listWallets> = async (c) => {
  const rows = await walletsOfUser(c.env.DB, caller(c).id);
  return c.json({ wallets: rows.map(walletView) }, 200);
};
