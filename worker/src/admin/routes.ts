import { createRoute, z } from "@hono/zod-openapi";
import { requireAdmin } from "../lib/auth";
import { errors, jsonBody, jsonContent, security } from "../lib/openapi";
import { LedgerEntrySchema, ChainBreakSchema } from "../billing/routes";

export const credits = createRoute({
  method: "post",
  path: "/api/admin/credits",
  tags: ["Administration"],
  security: [...security.bearer],
  middleware: [requireAdmin()] as const,
  summary: "Credit a client's balance (promotional or corrective), written to the ledger",
  description: "Send an `Idempotency-Key` header to make a retried request credit once.",
  request: {
    body: jsonBody(
      z.object({
        user_id: z.uuid(),
        amount_usd: z.number().gt(0).max(1_000_000),
        reason: z.string().trim().min(1).max(500),
      }),
    ),
  },
  responses: { 201: jsonContent(z.object({ entry: LedgerEntrySchema }), "The ledger entry"), ...errors(401, 403, 404, 409) },
});

export const Counts = z.record(z.string(), z.number().int());

export const overview = createRoute({
  method: "get",
  path: "/api/admin/overview",
  tags: ["Administration"],
  security: [...security.bearer],
  middleware: [requireAdmin()] as const,
  summary: "The platform at a glance: users, nodes and contracts by status, revenue, and the ledger's verification (admin)",
  description:
    "revenue, all from the ledger (exact sums of integer micro-USD): platform_fees_usd (the platform's income), charges_usd (what renters were charged), provider_earnings_usd, topups_usd and credits_usd (money in), refunds_usd, payouts_usd (paid to providers); outstanding_usd: settled costs balances could not cover. ledger: the result of re-walking the whole hash chain (as GET /api/billing/ledger/verify), so this call costs a full pass over the ledger.",
  responses: {
    200: jsonContent(
      z.object({
        users: z.object({ total: z.number().int(), by_role: Counts }),
        nodes: z.object({ total: z.number().int(), by_status: Counts }),
        contracts: z.object({ total: z.number().int(), by_status: Counts }),
        revenue: z.object({
          platform_fees_usd: z.number(),
          charges_usd: z.number(),
          provider_earnings_usd: z.number(),
          topups_usd: z.number(),
          credits_usd: z.number(),
          refunds_usd: z.number(),
          payouts_usd: z.number(),
          outstanding_usd: z.number(),
        }),
        ledger: z.object({
          ok: z.boolean(),
          entries_checked: z.number().int(),
          accounts_checked: z.number().int(),
          head_hash: z.string(),
          root_hash: z.string(),
          first_broken: ChainBreakSchema.nullable(),
          broken_accounts: z.array(ChainBreakSchema),
        }),
        reconciliation: z
          .object({
            unsettled_contracts: z.number().int(),
            stuck_holds_usd: z.number(),
            dead_letters: z.number().int(),
          })
          .openapi({
            description:
              "unsettled_contracts: ended but not yet charged; stuck_holds_usd: money held from balances that no open contract carries (ended contracts awaiting settlement, or a hold without its contract); dead_letters: settlement messages that exhausted their retries and are not yet settled by the region reconciler.",
          }),
        generated_at: z.string(),
      }),
      "Overview",
    ),
    ...errors(401, 403),
  },
});
