import { createRoute, z } from "@hono/zod-openapi";
import { LedgerEntrySchema } from "../billing/routes";
import { caller, requireAuth } from "../lib/auth";
import { errors, jsonBody, jsonContent, security } from "../lib/openapi";

export const tags = ["Billing"];

export const auth = [...security.bearer];

export const EarningsSchema = z
  .object({
    earned_usd: z.number().openapi({ description: "All provider earnings: each settled contract's cost minus the platform fee" }),
    paid_out_usd: z.number(),
    pending_usd: z.number().openapi({ description: "earned − paid out: what the next payout would pay (in whole cents)" }),
    min_payout_usd: z.number(),
    stripe_account_id: z.string().nullable().openapi({ description: "The Stripe connected account payouts go to" }),
  })
  .openapi("Earnings");

export const earnings = createRoute({
  method: "get",
  path: "/api/billing/earnings",
  tags,
  security: auth,
  middleware: [requireAuth()] as const,
  summary: "The caller's provider earnings: earned, paid out, pending",
  responses: { 200: jsonContent(EarningsSchema, "Earnings (all zero for a caller without nodes)"), ...errors(401) },
});

export const payoutAccount = createRoute({
  method: "put",
  path: "/api/billing/payout-account",
  tags,
  security: auth,
  middleware: [requireAuth("provider")] as const,
  summary: "Set the Stripe connected account (acct_…) that payouts go to",
  request: {
    body: jsonBody(
      z
        .object({ stripe_account_id: z.string().regex(/^acct_[A-Za-z0-9]{6,64}$/, "must be a Stripe connected account id (acct_…)") })
        .openapi("PayoutAccount"),
    ),
  },
  responses: { 200: jsonContent(z.object({ stripe_account_id: z.string() }), "Saved"), ...errors(401, 403) },
});

export const payouts = createRoute({
  method: "post",
  path: "/api/billing/payouts",
  tags,
  security: auth,
  middleware: [requireAuth("provider")] as const,
  summary: "Pay the pending earnings to the payout account (a Stripe Connect transfer)",
  description: [
    "Transfers the pending earnings, in whole cents (a sub-cent rest stays pending), to the provider's connected account, and writes a `payout` ledger entry (negative: money leaving the earnings account) whose `transaction_id` is the Stripe transfer id.",
    "400 `below_minimum_payout` under `MIN_PAYOUT_USD`; 409 `conflict` without a payout account or when Stripe refuses the account; 503 `payments_unavailable` without Stripe.",
    "Idempotent: each payout is named by the amount paid out before it; that name is the Stripe Idempotency-Key and transfer_group, so a retry (even after a lost response) reuses the transfer already made and the ledger records it once.",
  ].join("\n\n"),
  responses: {
    201: jsonContent(
      z.object({
        payout: z.object({ amount_usd: z.number(), stripe_transfer_id: z.string(), destination: z.string(), entry: LedgerEntrySchema }),
        earnings: EarningsSchema,
      }),
      "The payout and the earnings after it",
    ),
    ...errors(401, 403, 409, 503),
  },
});
