/**
 * Stripe: balance top-ups through PaymentIntents, and the webhook that completes, fails and
 * refunds them. The official SDK with its fetch HTTP client and SubtleCrypto provider (the Workers
 * runtime has neither Node's http nor its crypto module); STRIPE_API_BASE points it at a
 * Stripe-compatible server (tests).
 */
import Stripe from "stripe";
import type { Env } from "../env";
import { ApiError, invalid } from "../lib/errors";
import { sha256Hex } from "../lib/crypto";
import { AlreadyApplied, debitStatement, postLedger } from "../ledger/service";
import {
  clientIdOf,
  collectOutstanding,
  completeTransaction,
  failTransaction,
  loadTransaction,
  ownContractForPayment,
  type RawTransaction,
} from "./transactions";
import { clientBalance } from "../db/clients";
import { refundKeysOf } from "../db/ledger-entries";
import {
  insertPendingStripeTransaction,
  markRefundedIfFullyStatement,
  rememberStripePayment,
  stripeTransaction,
  transactionByKey,
  transactionByStripePayment,
} from "../db/transactions";
import { recordWebhook, webhookSeen } from "../db/webhook-events";

/** Stripe's smallest USD charge. */
export const STRIPE_MIN_CENTS = 50;
export const MICRO_PER_CENT = 10_000;

export function paymentsUnavailable(what = "card payments are not configured on this server") {
  return new ApiError("payments_unavailable", what);
}

export function stripeFor(env: Env): Stripe {
  if (!env.STRIPE_SECRET_KEY || !env.STRIPE_WEBHOOK_SECRET) throw paymentsUnavailable();
  const options: Stripe.StripeConfig = {
    httpClient: Stripe.createFetchHttpClient(),
    // The SDK retries network failures and 409s with the same Idempotency-Key, which Stripe
    // answers with the first result: safe.
    maxNetworkRetries: 2,
    timeout: 20_000,
  };
  if (env.STRIPE_API_BASE) {
    const base = new URL(env.STRIPE_API_BASE);
    options.host = base.hostname;
    options.protocol = base.protocol === "http:" ? "http" : "https";
    options.port = base.port || (base.protocol === "http:" ? 80 : 443);
  }
  return new Stripe(env.STRIPE_SECRET_KEY, options);
}

/** Stripe failures that say nothing about the card: the provider is down, misconfigured or unreachable. */
function unavailableFrom(e: unknown): ApiError {
  const err = e as { type?: string; message?: string };
  console.error(JSON.stringify({ level: "error", where: "stripe", type: err?.type, error: String(err?.message ?? e) }));
  return paymentsUnavailable("the payment provider is not answering; try again (the same request will not charge twice)");
}

// ---- top-up ------------------------------------------------------------------------------

export interface TopupInput {
  contractId?: string;
  amountUsd?: number;
  stripeToken: string;
  idempotencyHeader?: string;
}

/**
 * The amount to charge, in micro-USD (always whole cents). With a contract and no amount: the
 * contract's outstanding cost rounded up to the cent, at least Stripe's $0.50 minimum; what is
 * paid beyond the debt stays on the balance.
 */
async function amountToCharge(env: Env, userId: string, input: TopupInput): Promise<number> {
  if (input.amountUsd !== undefined) {
    const cents = Math.round(input.amountUsd * 100);
    if (Math.abs(cents - input.amountUsd * 100) > 1e-6)
      throw invalid("amount_usd", "must be whole cents (at most 2 decimal places) for card payments");
    if (cents < STRIPE_MIN_CENTS) throw invalid("amount_usd", "must be at least 0.50 (Stripe's minimum charge)");
    if (input.contractId) await ownContractForPayment(env, userId, input.contractId);
    return cents * MICRO_PER_CENT;
  }
  if (!input.contractId) throw invalid("amount_usd", "is required without contract_id");
  const { outstandingMicro } = await ownContractForPayment(env, userId, input.contractId);
  if (outstandingMicro <= 0)
    throw new ApiError("conflict", "this contract has nothing outstanding; send amount_usd to top up your balance");
  return Math.max(STRIPE_MIN_CENTS, Math.ceil(outstandingMicro / MICRO_PER_CENT)) * MICRO_PER_CENT;
}

function paymentMethodParams(token: string): Pick<Stripe.PaymentIntentCreateParams, "payment_method" | "payment_method_data"> {
  if (/^pm_[A-Za-z0-9_]+$/.test(token)) return { payment_method: token };
  if (/^tok_[A-Za-z0-9_]+$/.test(token))
    return { payment_method_data: { type: "card", card: { token } } as Stripe.PaymentIntentCreateParams.PaymentMethodData };
  throw invalid("stripe_token", "must be a PaymentMethod id (pm_…) or a card token (tok_…)");
}

/** Applies what Stripe says about a PaymentIntent to our transaction. */
async function applyIntent(env: Env, t: RawTransaction, pi: Stripe.PaymentIntent): Promise<RawTransaction> {
  if (pi.status === "succeeded") {
    const cents = pi.amount_received || pi.amount;
    return completeTransaction(env, t, cents * MICRO_PER_CENT, `topup:stripe:${pi.id}`, { stripePaymentId: pi.id });
  }
  if (pi.status === "canceled" || pi.status === "requires_payment_method") {
    return failTransaction(env, t.id, pi.last_payment_error?.message ?? `payment ${pi.status}`, { stripePaymentId: pi.id });
  }
  // processing / requires_action: the webhook finishes it.
  await rememberStripePayment(env.DB, t.id, pi.id);
  return loadTransaction(env, t.id);
}

/**
 * POST /api/payments/create. The request's idempotency key (the Idempotency-Key header, or a
 * SHA-256 of the caller and the body) names one transaction row and one Stripe Idempotency-Key, so
 * a retried request returns the same transaction and Stripe charges once.
 */
export async function createTopup(
  env: Env,
  userId: string,
  input: TopupInput,
): Promise<{ transaction: RawTransaction; collectedMicro: number }> {
  const stripe = stripeFor(env);
  const pmParams = paymentMethodParams(input.stripeToken);
  const key = input.idempotencyHeader
    ? `topup:${userId}:key:${input.idempotencyHeader}`
    : `topup:${userId}:body:${await sha256Hex(JSON.stringify([input.contractId ?? null, input.amountUsd ?? null, input.stripeToken]))}`;

  let t = await transactionByKey(env.DB, key);
  const amountMicro = t ? t.amount_micro : await amountToCharge(env, userId, input);
  if (
    t &&
    ((input.amountUsd !== undefined && Math.round(input.amountUsd * 100) * MICRO_PER_CENT !== t.amount_micro) ||
      (input.contractId ?? null) !== t.contract_id)
  ) {
    throw new ApiError("conflict", "this Idempotency-Key was already used for a different payment");
  }
  if (!t) {
    const id = crypto.randomUUID();
    await insertPendingStripeTransaction(env.DB, { id, userId, contractId: input.contractId ?? null, amountMicro, key, now: Date.now() });
    t = (await transactionByKey(env.DB, key))!;
  }

  if (t.status === "pending") {
    let pi: Stripe.PaymentIntent;
    try {
      if (t.stripe_payment_id) {
        pi = await stripe.paymentIntents.retrieve(t.stripe_payment_id);
      } else {
        pi = await stripe.paymentIntents.create(
          {
            amount: t.amount_micro / MICRO_PER_CENT,
            currency: "usd",
            ...pmParams,
            // Server-side confirmation has no page to come back to: redirect-based methods are excluded.
            automatic_payment_methods: { enabled: true, allow_redirects: "never" },
            confirm: true,
            description: t.contract_id ? `Mnemo: outstanding cost of contract ${t.contract_id}` : "Mnemo balance top-up",
            metadata: { transaction_id: t.id, user_id: userId, ...(t.contract_id ? { contract_id: t.contract_id } : {}) },
          },
          { idempotencyKey: `mnemo-${await sha256Hex(key)}` },
        );
      }
    } catch (e) {
      const err = e as { type?: string; message?: string; code?: string; raw?: { payment_intent?: Stripe.PaymentIntent } };
      if (err?.type === "StripeCardError") {
        const failed = await failTransaction(env, t.id, err.message ?? "card declined", { stripePaymentId: err.raw?.payment_intent?.id });
        throw new ApiError("payment_failed", `the card was declined: ${err.message ?? err.code ?? "declined"} (transaction ${failed.id})`);
      }
      if (err?.type === "StripeIdempotencyError")
        throw new ApiError("conflict", "this Idempotency-Key was already used for a different payment");
      if (err?.type === "StripeInvalidRequestError") {
        await failTransaction(env, t.id, err.message ?? "rejected by Stripe");
        throw new ApiError("validation_failed", `Stripe refused the payment: ${err.message ?? "invalid request"}`, [
          { field: "stripe_token", message: err.message ?? "invalid" },
        ]);
      }
      throw unavailableFrom(e);
    }
    t = await applyIntent(env, t, pi);
  }
  if (t.status === "failed")
    throw new ApiError("payment_failed", `this payment failed: ${t.failure_reason ?? "declined"} (transaction ${t.id})`);
  const collectedMicro = t.status === "completed" && t.contract_id ? await collectOutstanding(env, t.contract_id) : 0;
  return { transaction: t, collectedMicro };
}

// ---- webhook -----------------------------------------------------------------------------

/** Verifies the Stripe-Signature (HMAC-SHA256 over `t.payload`, at most 300 s old) and parses the event. */
export async function verifyWebhook(env: Env, payload: string, signature: string | undefined): Promise<Stripe.Event> {
  const stripe = stripeFor(env);
  if (!signature) throw invalid("Stripe-Signature", "header is required");
  try {
    return await stripe.webhooks.constructEventAsync(
      payload,
      signature,
      env.STRIPE_WEBHOOK_SECRET!,
      300,
      Stripe.createSubtleCryptoProvider(),
    );
  } catch (e) {
    throw invalid("Stripe-Signature", `does not verify: ${(e as Error).message?.split("\n")[0] ?? "bad signature"}`);
  }
}

async function transactionForIntent(
  env: Env,
  pi: { id: string; metadata?: Record<string, string> | null },
): Promise<RawTransaction | null> {
  const byPi = await transactionByStripePayment(env.DB, pi.id);
  if (byPi) return byPi;
  // The request that created the intent may have died before it stored the intent's id.
  const txId = pi.metadata?.transaction_id;
  if (!txId) return null;
  return stripeTransaction(env.DB, txId);
}

/**
 * A refund (charge.refunded carries the cumulative amount refunded) takes the refunded money back
 * from the balance. The balance never goes below zero, and money held for running contracts stays
 * held: what the free balance cannot cover is not taken, and the entry's memo records it as
 * unrecovered (the renter already spent it) for a person to follow up.
 */
async function refund(env: Env, charge: Stripe.Charge): Promise<string> {
  const piId = typeof charge.payment_intent === "string" ? charge.payment_intent : charge.payment_intent?.id;
  if (!piId) return "no payment intent";
  const t = await transactionByStripePayment(env.DB, piId);
  if (!t || (t.status !== "completed" && t.status !== "refunded")) return "no completed transaction";
  const clientId = await clientIdOf(env, t.user_id);
  for (let attempt = 0; attempt < 5; attempt++) {
    const prior = await refundKeysOf(env.DB, t.id);
    const refundedBefore = prior.reduce((max, key) => Math.max(max, Number(key.split(":").pop()) || 0), 0);
    const refundedCents = Math.min(charge.amount_refunded, t.amount_micro / MICRO_PER_CENT);
    if (refundedCents <= refundedBefore) return "already applied";
    const dueMicro = (refundedCents - refundedBefore) * MICRO_PER_CENT;
    const c = await clientBalance(env.DB, clientId);
    const take = Math.min(dueMicro, Math.max(0, (c?.balanceMicro ?? 0) - (c?.heldMicro ?? 0)));
    const fully = refundedCents * MICRO_PER_CENT >= t.amount_micro;
    try {
      await postLedger(
        env.DB,
        [
          {
            kind: "refund",
            userId: t.user_id,
            transactionId: t.id,
            amountMicro: -take,
            // Keyed by the cumulative refunded amount: each new partial refund applies once.
            idempotencyKey: `refund:stripe:${piId}:${refundedCents}`,
            memo:
              take < dueMicro
                ? `refund of ${dueMicro} micro-USD; ${dueMicro - take} micro-USD unrecovered (already spent or held)`
                : `refund of ${dueMicro} micro-USD`,
          },
        ],
        () => [debitStatement(env.DB, clientId, take), markRefundedIfFullyStatement(env.DB, t.id, fully)],
      );
      return take < dueMicro ? "partially recovered" : "refunded";
    } catch (e) {
      if (e instanceof AlreadyApplied) return "already applied";
      if (e instanceof ApiError && e.code === "insufficient_funds") continue;
      throw e;
    }
  }
  throw new Error("could not apply refund: the balance kept changing");
}

/** Handles one verified event; every branch is idempotent, so a replay changes nothing. */
export async function handleEvent(env: Env, event: Stripe.Event): Promise<{ handled: boolean; outcome: string }> {
  switch (event.type) {
    case "payment_intent.succeeded": {
      const pi = event.data.object;
      // Balances are USD; a payment in another currency is not ours to convert.
      if (pi.currency !== "usd") return { handled: false, outcome: `currency ${pi.currency} ignored` };
      const t = await transactionForIntent(env, pi);
      if (!t) return { handled: false, outcome: "unknown payment intent" };
      const after = await completeTransaction(env, t, (pi.amount_received || pi.amount) * MICRO_PER_CENT, `topup:stripe:${pi.id}`, {
        stripePaymentId: pi.id,
      });
      if (after.contract_id) await collectOutstanding(env, after.contract_id);
      return { handled: true, outcome: after.status };
    }
    case "payment_intent.payment_failed": {
      const pi = event.data.object;
      const t = await transactionForIntent(env, pi);
      if (!t) return { handled: false, outcome: "unknown payment intent" };
      const after = await failTransaction(env, t.id, pi.last_payment_error?.message ?? "payment failed", { stripePaymentId: pi.id });
      return { handled: true, outcome: after.status };
    }
    case "charge.refunded":
      return { handled: true, outcome: await refund(env, event.data.object) };
    default:
      return { handled: false, outcome: "ignored" };
  }
}

export async function receiveWebhook(env: Env, payload: string, signature: string | undefined) {
  const event = await verifyWebhook(env, payload, signature);
  if (await webhookSeen(env.DB, event.id)) return { received: true as const, duplicate: true, handled: false, type: String(event.type) };
  const result = await handleEvent(env, event);
  // Recorded after handling: a crash in between makes Stripe redeliver, and handling is idempotent.
  await recordWebhook(env.DB, event.id, event.type, Date.now());
  return { received: true as const, duplicate: false, handled: result.handled, type: String(event.type) };
}
