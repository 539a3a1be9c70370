/**
 * Provider earnings and payouts. A provider's earnings are an account of their own, kept entirely
 * in the ledger: `provider_earning` entries in (cost minus the platform fee of each settled
 * contract), `payout` entries out (negative). Pending = earned − paid out; it never mixes with the
 * provider's renter balance.
 */
import type Stripe from "stripe";
import { config, type Env } from "../env";
import { microToUsd, parseDecimal } from "../domain/money";
import { ApiError, notFound } from "../lib/errors";
import { AlreadyApplied, postLedger } from "../ledger/service";
import { MICRO_PER_CENT, stripeFor } from "../payments/stripe";
import { earnedAndPaidOut, entryById, entryByKey } from "../db/ledger-entries";
import { payoutAccountRow, savePayoutAccount } from "../db/users";

export async function earningsOf(env: Env, userId: string) {
  const { earned, paid } = await earnedAndPaidOut(env.DB, userId);
  return { earnedMicro: earned, paidOutMicro: paid, pendingMicro: earned - paid };
}

export function earningsView(e: Awaited<ReturnType<typeof earningsOf>>, extra: { stripeAccountId: string | null; minPayoutMicro: number }) {
  return {
    earned_usd: microToUsd(e.earnedMicro),
    paid_out_usd: microToUsd(e.paidOutMicro),
    pending_usd: microToUsd(e.pendingMicro),
    min_payout_usd: microToUsd(extra.minPayoutMicro),
    stripe_account_id: extra.stripeAccountId,
  };
}

export const minPayoutMicro = (env: Env) => parseDecimal(config(env).minPayoutUsd, 6);

export async function payoutAccountOf(env: Env, userId: string): Promise<string | null> {
  const u = await payoutAccountRow(env.DB, userId);
  if (!u) throw notFound("user");
  return u.stripeAccountId;
}

export async function setPayoutAccount(env: Env, userId: string, accountId: string) {
  await savePayoutAccount(env.DB, userId, accountId);
}

/**
 * Pays the pending earnings (whole cents; the sub-cent rest stays pending) to the provider's Stripe
 * connected account. Every attempt is named by what was paid out before it (`payout:{user}:{paid}`):
 * that name is the Stripe Idempotency-Key, the transfer_group and the ledger key. So a retried
 * request reuses the transfer Stripe already made (found by its transfer_group even when the
 * ledger write was lost) and the ledger records it once.
 */
export async function payOut(env: Env, userId: string) {
  const stripe = stripeFor(env);
  const destination = await payoutAccountOf(env, userId);
  if (!destination) throw new ApiError("conflict", "set a payout account first: PUT /api/billing/payout-account {stripe_account_id}");
  const e = await earningsOf(env, userId);
  const cents = Math.floor(Math.max(0, e.pendingMicro) / MICRO_PER_CENT);
  const min = minPayoutMicro(env);
  const key = `payout:${userId}:${e.paidOutMicro}`;
  const done = await entryByKey(env.DB, key);
  if (done) return { entry: done, transferId: done.transaction_id as string, destination, replayed: true };
  if (cents * MICRO_PER_CENT < min || cents === 0) {
    throw new ApiError(
      "below_minimum_payout",
      `pending earnings are $${microToUsd(e.pendingMicro)}; the smallest payout is $${microToUsd(min)}`,
    );
  }
  const group = `mnemo_payout_${userId}_${e.paidOutMicro}`;
  let transfer: Stripe.Transfer;
  try {
    const earlier = await stripe.transfers.list({ transfer_group: group, limit: 1 });
    transfer =
      earlier.data[0] ??
      (await stripe.transfers.create(
        {
          amount: cents,
          currency: "usd",
          destination,
          transfer_group: group,
          description: "Mnemo provider earnings",
          metadata: { user_id: userId, ledger_key: key },
        },
        { idempotencyKey: `mnemo-${key}` },
      ));
  } catch (err) {
    const t = (err as { type?: string; message?: string })?.type;
    if (t === "StripeIdempotencyError") throw new ApiError("conflict", "a payout is already being made; try again in a moment");
    if (t === "StripeInvalidRequestError" || t === "StripePermissionError") {
      throw new ApiError("conflict", `Stripe refused the transfer to ${destination}: ${(err as Error).message}`);
    }
    console.error(JSON.stringify({ level: "error", where: "stripe.transfers", type: t, error: String((err as Error)?.message ?? err) }));
    throw new ApiError("payments_unavailable", "the payment provider is not answering; try again (the payout will not be made twice)");
  }
  try {
    const [entry] = await postLedger(
      env.DB,
      [
        {
          kind: "payout",
          userId,
          amountMicro: -transfer.amount * MICRO_PER_CENT,
          transactionId: transfer.id,
          idempotencyKey: key,
          memo: `Stripe transfer ${transfer.id} to ${destination}`,
        },
      ],
      () => [],
    );
    const row = await entryById(env.DB, entry.id);
    return { entry: row!, transferId: transfer.id, destination, replayed: false };
  } catch (err) {
    if (!(err instanceof AlreadyApplied)) throw err;
    const row = await entryByKey(env.DB, key);
    return { entry: row!, transferId: row!.transaction_id as string, destination, replayed: true };
  }
}
