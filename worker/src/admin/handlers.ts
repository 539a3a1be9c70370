import { platformOverview } from "../db/analytics";
import { clientIdOfUser } from "../db/clients";
import { entryById } from "../db/ledger-entries";
import { usdToMicro, microToUsd } from "../domain/money";
import { caller } from "../lib/auth";
import { AlreadyApplied, creditStatement, postLedger } from "../ledger/service";
import { ApiError, invalid, notFound } from "../lib/errors";
import { entryView, verifyLedger } from "../billing/ledger-query";
import type { AppRouteHandler } from "../lib/openapi";
import { reconciliationFigures } from "../settlement/dead-letters";
import type * as routes from "./routes";

export const credits: AppRouteHandler<typeof routes.credits> = async (c) => {
  const b = c.req.valid("json");
  const amount = usdToMicro(b.amount_usd);
  if (amount === null) throw invalid("amount_usd", "must have at most 6 decimal places");
  const clientId = await clientIdOfUser(c.env.DB, b.user_id);
  if (!clientId) throw notFound("user");
  const key = c.req.header("idempotency-key");
  try {
    const [entry] = await postLedger(
      c.env.DB,
      [
        {
          kind: "credit",
          userId: b.user_id,
          amountMicro: amount,
          memo: `${b.reason} (by ${caller(c).email})`,
          idempotencyKey: key ? `credit:${caller(c).id}:${key}` : `credit:${crypto.randomUUID()}`,
        },
      ],
      () => [creditStatement(c.env.DB, clientId, amount)],
    );
    const row = await entryById(c.env.DB, entry.id);
    return c.json({ entry: entryView(row!) }, 201);
  } catch (e) {
    if (e instanceof AlreadyApplied) throw new ApiError("conflict", "a credit with this Idempotency-Key was already made");
    throw e;
  }
};

type Group = { k: string; n: number };

const grouped = (rows: Group[]) => Object.fromEntries(rows.map((r) => [r.k, r.n]));

const total = (rows: Group[]) => rows.reduce((s, r) => s + r.n, 0);

export const overview: AppRouteHandler<typeof routes.overview> = async (c) => {
  const o = await platformOverview(c.env.DB);
  const byKind = grouped(o.ledgerSumsByKind);
  const kind = (k: string) => byKind[k] ?? 0;
  const u = o.usersByRole,
    n = o.nodesByStatus,
    k = o.contractsByStatus;
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
        outstanding_usd: microToUsd(o.outstandingMicro),
      },
      ledger: await verifyLedger(c.env),
      reconciliation: await reconciliationFigures(c.env),
      generated_at: new Date().toISOString(),
    },
    200,
  );
};
