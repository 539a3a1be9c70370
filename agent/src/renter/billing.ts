/** mnemo balance / topup / ledger. */
import type { Ctx } from "./context.ts";
import { err, out, parseLimit, parseNumber, parseWholeNumber, printJson, table, UsageError, usd } from "./util.ts";

export async function balance(ctx: Ctx): Promise<number> {
  ctx.requireToken();
  const b = await ctx.call(ctx.api.GET("/api/billing/balance"));
  if (ctx.json) {
    printJson(b);
    return 0;
  }
  const runway =
    b.runway_sec === null
      ? "-"
      : b.runway_sec >= 86400
        ? `${(b.runway_sec / 86400).toFixed(1)} days`
        : `${(b.runway_sec / 3600).toFixed(1)} hours`;
  out(
    [
      `balance    ${usd(b.balance_usd)}`,
      `held       ${usd(b.held_usd)}   (estimated cost of running and pending contracts)`,
      `available  ${usd(b.available_usd)}`,
      `burn rate  ${usd(b.burn_rate_usd_per_hour)}/hour`,
      `runway     ${runway}`,
    ].join("\n"),
  );
  return 0;
}

/**
 * Adds funds with Stripe. A CLI must never collect card numbers, so it takes a Stripe
 * PaymentMethod id (pm_...) or card token (tok_...) that Stripe.js, the Stripe CLI or the
 * dashboard produced; the worker confirms a PaymentIntent with it (POST /api/payments/create).
 */
export async function topup(ctx: Ctx, flags: { amount?: string; "payment-method"?: string }): Promise<number> {
  const amount = parseNumber(flags.amount, "--amount");
  if (amount === undefined) throw new UsageError("--amount is required (USD, e.g. --amount 25).");
  if (amount < 0.5 || Math.round(amount * 100) !== Math.round(amount * 1e6) / 1e4)
    throw new UsageError(`--amount must be whole cents, at least 0.50, got ${flags.amount}.`);
  const pm = flags["payment-method"] ?? process.env.MNEMO_STRIPE_PAYMENT_METHOD;
  if (!pm)
    throw new UsageError(
      "--payment-method is required: a Stripe PaymentMethod id (pm_...) or card token (tok_...), or set MNEMO_STRIPE_PAYMENT_METHOD.",
    );
  ctx.requireToken();
  const { transaction } = await ctx.call(
    ctx.api.POST("/api/payments/create", { body: { amount_usd: amount, payment_method: "stripe", stripe_token: pm } }),
  );
  if (ctx.json) printJson({ transaction });
  else
    out(
      `Top-up of ${usd(transaction.amount_usd)}: ${transaction.status} (transaction ${transaction.id}).${transaction.status === "completed" ? "" : " The balance is credited when Stripe confirms the payment."}`,
    );
  return 0;
}

export async function ledger(ctx: Ctx, flags: { limit?: string; offset?: string }): Promise<number> {
  const limit = parseLimit(flags.limit, 50);
  const offset = parseWholeNumber(flags.offset, "--offset");
  ctx.requireToken();
  const res = await ctx.call(ctx.api.GET("/api/billing/ledger", { params: { query: { limit, offset } } }));
  if (ctx.json) {
    printJson(res);
    return 0;
  }
  if (!res.entries.length) {
    out("No ledger entries yet.");
    return 0;
  }
  out(
    table(
      ["TIME", "KIND", "AMOUNT_USD", "CONTRACT", "MEMO", "HASH"],
      res.entries.map((e) => [e.created_at, e.kind, e.amount_usd, e.contract_id, e.memo, e.hash.slice(0, 12)]),
    ),
  );
  if (res.total_count > res.entries.length) err(`${res.entries.length} of ${res.total_count} shown (--limit, --offset).`);
  return 0;
}
