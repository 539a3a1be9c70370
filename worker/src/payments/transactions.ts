/**
 * Money coming in from outside (Stripe, USDC): the `transactions` row that records a payment, and
 * the ledger effects that follow from it. Every effect is keyed so that the request path, a
 * webhook and a retry can all race to complete the same payment and the balance grows once.
 */
import { config, type Env } from "../env";
import type { TransactionRow } from "../db/schema";
import { microToUsd, splitFee } from "../domain/money";
import { ApiError, notFound } from "../lib/errors";
import { iso } from "../lib/time";
import { AlreadyApplied, creditStatement, debitStatement, postLedger } from "../ledger/service";

export type RawTransaction = {
  id: string;
  user_id: string;
  contract_id: string | null;
  amount_micro: number;
  payment_method: "stripe" | "crypto";
  status: TransactionRow["status"];
  stripe_payment_id: string | null;
  blockchain: string | null;
  tx_hash: string | null;
  wallet_address: string | null;
  idempotency_key: string | null;
  failure_reason: string | null;
  created_at: number;
  settled_at: number | null;
};

/** The `transaction` object of API.md, exactly. */
export function transactionView(t: RawTransaction) {
  return {
    id: t.id,
    contract_id: t.contract_id,
    amount_usd: microToUsd(t.amount_micro),
    payment_method: t.payment_method,
    status: t.status,
    stripe_payment_id: t.stripe_payment_id,
    blockchain: t.blockchain,
    tx_hash: t.tx_hash,
    wallet_address: t.wallet_address,
    created_at: iso(t.created_at)!,
    settled_at: iso(t.settled_at),
  };
}

export async function loadTransaction(env: Env, id: string): Promise<RawTransaction> {
  const t = await env.DB.prepare(`SELECT * FROM transactions WHERE id = ?`).bind(id).first<RawTransaction>();
  if (!t) throw notFound("transaction");
  return t;
}

export async function clientIdOf(env: Env, userId: string): Promise<string> {
  const c = await env.DB.prepare(`SELECT id FROM clients WHERE user_id = ?`).bind(userId).first<{ id: string }>();
  if (!c) throw notFound("client profile");
  return c.id;
}

/**
 * Credits a succeeded payment once: the balance grows, a `topup` entry is written and the
 * transaction becomes `completed`, in one batch. `effectKey` names the outside payment (the
 * PaymentIntent, the chain transaction), so whichever path arrives second changes nothing.
 */
export async function completeTransaction(
  env: Env,
  t: RawTransaction,
  amountMicro: number,
  effectKey: string,
  extra: { stripePaymentId?: string } = {},
): Promise<RawTransaction> {
  const clientId = await clientIdOf(env, t.user_id);
  const now = Date.now();
  try {
    await postLedger(
      env.DB,
      [
        {
          kind: "topup",
          userId: t.user_id,
          transactionId: t.id,
          contractId: t.contract_id,
          amountMicro,
          idempotencyKey: effectKey,
          memo: t.payment_method === "stripe" ? `Stripe ${extra.stripePaymentId ?? t.stripe_payment_id ?? ""}`.trim() : `USDC ${t.tx_hash}`,
        },
      ],
      () => [
        creditStatement(env.DB, clientId, amountMicro, now),
        env.DB.prepare(
          `UPDATE transactions SET status = 'completed', amount_micro = ?1, stripe_payment_id = COALESCE(stripe_payment_id, ?2), failure_reason = NULL, settled_at = ?3 WHERE id = ?4`,
        ).bind(amountMicro, extra.stripePaymentId ?? null, now, t.id),
      ],
    );
  } catch (e) {
    if (!(e instanceof AlreadyApplied)) throw e;
  }
  return loadTransaction(env, t.id);
}

/** A payment that will not succeed. A completed or refunded transaction is never turned back into a failure. */
export async function failTransaction(
  env: Env,
  id: string,
  reason: string,
  extra: { stripePaymentId?: string } = {},
): Promise<RawTransaction> {
  await env.DB.prepare(
    `UPDATE transactions SET status = 'failed', failure_reason = ?1, stripe_payment_id = COALESCE(stripe_payment_id, ?2) WHERE id = ?3 AND status = 'pending'`,
  )
    .bind(reason.slice(0, 500), extra.stripePaymentId ?? null, id)
    .run();
  return loadTransaction(env, id);
}

/** The caller's own contract, for paying what it still owes; anyone else's does not exist. */
export async function ownContractForPayment(env: Env, userId: string, contractId: string) {
  const k = await env.DB.prepare(`SELECT id, client_user_id, total_cost_micro, charged_micro FROM contracts WHERE id = ?`)
    .bind(contractId)
    .first<{ id: string; client_user_id: string; total_cost_micro: number; charged_micro: number | null }>();
  if (!k || k.client_user_id !== userId) throw notFound("contract");
  return { id: k.id, outstandingMicro: k.charged_micro === null ? 0 : Math.max(0, k.total_cost_micro - k.charged_micro) };
}

/**
 * Takes what a settled contract still owes (its final cost beyond what the balance could cover at
 * settlement) from the renter's free balance, as far as it goes. Each collection is keyed by the
 * amount already charged, so a repeat finds the key taken and moves nothing. The provider and the
 * platform get their shares of the collected money such that, over all collections, fee and
 * earning are exactly splitFee(total charged): nobody gains or loses a micro-USD to rounding.
 * Returns the micro-USD collected.
 */
export async function collectOutstanding(env: Env, contractId: string): Promise<number> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const k = await env.DB.prepare(
      `SELECT id, client_id, client_user_id, provider_id, total_cost_micro, charged_micro FROM contracts WHERE id = ?`,
    )
      .bind(contractId)
      .first<{
        id: string;
        client_id: string;
        client_user_id: string;
        provider_id: string;
        total_cost_micro: number;
        charged_micro: number | null;
      }>();
    // Not settled yet: settlement itself takes the cost from the balance, topped up or not.
    if (!k || k.charged_micro === null) return 0;
    const outstanding = k.total_cost_micro - k.charged_micro;
    if (outstanding <= 0) return 0;
    const c = await env.DB.prepare(`SELECT balance_micro, held_micro FROM clients WHERE id = ?`)
      .bind(k.client_id)
      .first<{ balance_micro: number; held_micro: number }>();
    const take = Math.min(outstanding, Math.max(0, (c?.balance_micro ?? 0) - (c?.held_micro ?? 0)));
    if (take <= 0) return 0;
    const fee = config(env).platformFeePercent;
    const feeDelta = splitFee(k.charged_micro + take, fee).feeMicro - splitFee(k.charged_micro, fee).feeMicro;
    const step = `${contractId}:${k.charged_micro}`;
    try {
      await postLedger(
        env.DB,
        [
          {
            kind: "charge",
            userId: k.client_user_id,
            contractId,
            amountMicro: -take,
            idempotencyKey: `collect:${step}`,
            memo: `outstanding cost collected (${outstanding - take} micro-USD still outstanding)`,
          },
          {
            kind: "provider_earning",
            userId: k.provider_id,
            contractId,
            amountMicro: take - feeDelta,
            idempotencyKey: `collect-earning:${step}`,
          },
          { kind: "platform_fee", userId: null, contractId, amountMicro: feeDelta, idempotencyKey: `collect-fee:${step}` },
        ],
        () => [
          debitStatement(env.DB, k.client_id, take),
          env.DB.prepare(`UPDATE contracts SET charged_micro = charged_micro + ?1 WHERE id = ?2 AND charged_micro = ?3`).bind(
            take,
            contractId,
            k.charged_micro,
          ),
        ],
      );
      return take;
    } catch (e) {
      if (e instanceof AlreadyApplied) return 0;
      if (e instanceof ApiError && e.code === "insufficient_funds") continue; // a hold landed meanwhile: read again
      throw e;
    }
  }
  return 0;
}
