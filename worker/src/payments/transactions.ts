/**
 * Money coming in from outside (Stripe, USDC): the `transactions` row that records a payment, and
 * the ledger effects that follow from it. Every effect is keyed so that the request path, a
 * webhook and a retry can all race to complete the same payment and the balance grows once.
 */
import { config, type Env } from "../env";
import { clientBalance, clientIdOfUser } from "../db/clients";
import { collectIfChargedStatement, debtOf } from "../db/contracts";
import { completeTransactionStatement, failTransactionIfPending, findTransaction, type RawTransaction } from "../db/transactions";
import { microToUsd, splitFee } from "../domain/money";
import { ApiError, notFound } from "../lib/errors";
import { iso } from "../lib/time";
import { AlreadyApplied, creditStatement, debitStatement, postLedger } from "../ledger/service";

export type { RawTransaction };

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
  const t = await findTransaction(env.DB, id);
  if (!t) throw notFound("transaction");
  return t;
}

export async function clientIdOf(env: Env, userId: string): Promise<string> {
  const id = await clientIdOfUser(env.DB, userId);
  if (!id) throw notFound("client profile");
  return id;
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
        completeTransactionStatement(env.DB, t.id, amountMicro, extra.stripePaymentId ?? null, now),
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
  await failTransactionIfPending(env.DB, id, reason.slice(0, 500), extra.stripePaymentId ?? null);
  return loadTransaction(env, id);
}

/** The caller's own contract, for paying what it still owes; anyone else's does not exist. */
export async function ownContractForPayment(env: Env, userId: string, contractId: string) {
  const k = await debtOf(env.DB, contractId);
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
    const k = await debtOf(env.DB, contractId);
    // Not settled yet: settlement itself takes the cost from the balance, topped up or not.
    if (!k || k.charged_micro === null) return 0;
    const chargedBefore = k.charged_micro;
    const outstanding = k.total_cost_micro - k.charged_micro;
    if (outstanding <= 0) return 0;
    const c = await clientBalance(env.DB, k.client_id);
    const take = Math.min(outstanding, Math.max(0, (c?.balanceMicro ?? 0) - (c?.heldMicro ?? 0)));
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
        () => [debitStatement(env.DB, k.client_id, take), collectIfChargedStatement(env.DB, contractId, take, chargedBefore)],
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
