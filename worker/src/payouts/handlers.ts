import { entryView } from "../billing/ledger-query";
import { microToUsd } from "../domain/money";
import { caller } from "../lib/auth";
import { earningsOf, earningsView, minPayoutMicro, payOut, payoutAccountOf, setPayoutAccount } from "./service";
import type { AppRouteHandler } from "../lib/openapi";
import type * as routes from "./routes";

export const earnings: AppRouteHandler<typeof routes.earnings> = async (c) => {
  const me = caller(c);
  const [e, acct] = await Promise.all([earningsOf(c.env, me.id), payoutAccountOf(c.env, me.id)]);
  return c.json(earningsView(e, { stripeAccountId: acct, minPayoutMicro: minPayoutMicro(c.env) }), 200);
};

export const payoutAccount: AppRouteHandler<typeof routes.payoutAccount> = async (c) => {
  const { stripe_account_id } = c.req.valid("json");
  await setPayoutAccount(c.env, caller(c).id, stripe_account_id);
  return c.json({ stripe_account_id }, 200);
};

export const payouts: AppRouteHandler<typeof routes.payouts> = async (c) => {
  const me = caller(c);
  const p = await payOut(c.env, me.id);
  const e = await earningsOf(c.env, me.id);
  const entry = entryView(p.entry);
  return c.json(
    {
      payout: {
        amount_usd: microToUsd(-(p.entry.amount_micro as number)),
        stripe_transfer_id: p.transferId,
        destination: p.destination,
        entry,
      },
      earnings: earningsView(e, { stripeAccountId: p.destination, minPayoutMicro: minPayoutMicro(c.env) }),
    },
    201,
  );
};
