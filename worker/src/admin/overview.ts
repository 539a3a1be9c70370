import { createRoute, z } from "@hono/zod-openapi";
import { verifyLedger } from "../billing/ledger-query";
import { microToUsd } from "../domain/money";
import { requireAdmin } from "../lib/auth";
import { ChainBreakSchema } from "../billing/routes";
import { reconciliationFigures } from "../settlement/dead-letters";
import { createRouter, errors, jsonContent, security } from "../lib/openapi";

const Counts = z.record(z.string(), z.number().int());

const overview = createRoute({
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

type Group = { k: string; n: number };
const grouped = (rows: Group[]) => Object.fromEntries(rows.map((r) => [r.k, r.n]));
const total = (rows: Group[]) => rows.reduce((s, r) => s + r.n, 0);

export const adminOverviewRouter = createRouter().openapi(overview, async (c) => {
  const db = c.env.DB;
  const [users, nodes, contracts, money, outstanding] = await db.batch([
    db.prepare(`SELECT role AS k, COUNT(*) AS n FROM users GROUP BY role`),
    db.prepare(`SELECT status AS k, COUNT(*) AS n FROM nodes GROUP BY status`),
    db.prepare(`SELECT status AS k, COUNT(*) AS n FROM contracts GROUP BY status`),
    db.prepare(`SELECT kind AS k, COALESCE(SUM(amount_micro), 0) AS n FROM ledger_entries GROUP BY kind`),
    db.prepare(`SELECT COALESCE(SUM(total_cost_micro - charged_micro), 0) AS n FROM contracts WHERE charged_micro IS NOT NULL AND total_cost_micro > charged_micro`),
  ]);
  const byKind = grouped(money.results as Group[]);
  const kind = (k: string) => byKind[k] ?? 0;
  const u = users.results as Group[], n = nodes.results as Group[], k = contracts.results as Group[];
  return c.json(
    {
      users: { total: total(u), by_role: grouped(u) },
      nodes: { total: total(n), by_status: grouped(n) },
      contracts: { total: total(k), by_status: grouped(k) },
      revenue: {
        platform_fees_usd: microToUsd(kind("platform_fee")),
        // Charges, refunds and payouts are negative from the account's side; shown as positive flows.
        charges_usd: microToUsd(-kind("charge")),
        provider_earnings_usd: microToUsd(kind("provider_earning")),
        topups_usd: microToUsd(kind("topup")),
        credits_usd: microToUsd(kind("credit")),
        refunds_usd: microToUsd(-kind("refund")),
        payouts_usd: microToUsd(-kind("payout")),
        outstanding_usd: microToUsd((outstanding.results[0] as { n: number }).n),
      },
      ledger: await verifyLedger(c.env),
      reconciliation: await reconciliationFigures(c.env),
      generated_at: new Date().toISOString(),
    },
    200,
  );
});
