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
  const where = userId ? "WHERE user_id = ?" : "";
  const params = userId ? [userId] : [];
  const [rows, count] = await c.env.DB.batch([
    c.env.DB.prepare(`SELECT * FROM ledger_entries ${where} ORDER BY seq DESC LIMIT ? OFFSET ?`).bind(...params, q.limit, q.offset),
    c.env.DB.prepare(`SELECT COUNT(*) AS n FROM ledger_entries ${where}`).bind(...params),
  ]);
  return c.json(
    { entries: (rows.results as Record<string, unknown>[]).map(entryView), total_count: (count.results[0] as { n: number }).n },
    200,
  );
};

export const verify: AppRouteHandler<typeof routes.verify> = async (c) => c.json(await verifyLedger(c.env), 200);
