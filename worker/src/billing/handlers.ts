import { pageOfLedgerEntries } from "../db/ledger-entries";
import { caller } from "../lib/auth";
import { entryView, verifyLedger } from "./ledger-query";
import { balanceOf } from "./service";
import type { AppRouteHandler } from "../lib/openapi";
import type * as routes from "./routes";

export const balance: AppRouteHandler<typeof routes.balance> = async (c) => c.json(await balanceOf(c.env, caller(c).id), 200);

export const ledger: AppRouteHandler<typeof routes.ledger> = async (c) => {
  const q = c.req.valid("query");
  const me = caller(c);
  // Everyone sees their own account; admins may look at anyone's, or at the whole chain.
  const userId = me.role === "admin" ? (q.user_id ?? null) : me.id;
  const page = await pageOfLedgerEntries(c.env.DB, userId, q.limit, q.offset);
  return c.json({ entries: page.rows.map(entryView), total_count: page.total }, 200);
};

export const verify: AppRouteHandler<typeof routes.verify> = async (c) => c.json(await verifyLedger(c.env), 200);
