import { createRoute, z } from "@hono/zod-openapi";
import { usdToMicro } from "../domain/money";
import { caller, requireAdmin } from "../lib/auth";
import { AlreadyApplied, creditStatement, postLedger } from "../ledger/service";
import { ApiError, invalid, notFound } from "../lib/errors";
import { createRouter, errors, jsonBody, jsonContent, security } from "../lib/openapi";
import { LedgerEntrySchema } from "../billing/routes";
import { entryView } from "../billing/ledger-query";

const credits = createRoute({
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

export const adminRouter = createRouter().openapi(credits, async (c) => {
  const b = c.req.valid("json");
  const amount = usdToMicro(b.amount_usd);
  if (amount === null) throw invalid("amount_usd", "must have at most 6 decimal places");
  const client = await c.env.DB.prepare(`SELECT id FROM clients WHERE user_id = ?`).bind(b.user_id).first<{ id: string }>();
  if (!client) throw notFound("user");
  const key = c.req.header("idempotency-key");
  try {
    const [entry] = await postLedger(
      c.env.DB,
      [{ kind: "credit", userId: b.user_id, amountMicro: amount, memo: `${b.reason} (by ${caller(c).email})`, idempotencyKey: key ? `credit:${caller(c).id}:${key}` : `credit:${crypto.randomUUID()}` }],
      () => [creditStatement(c.env.DB, client.id, amount)],
    );
    const row = await c.env.DB.prepare(`SELECT * FROM ledger_entries WHERE id = ?`).bind(entry.id).first<Record<string, unknown>>();
    return c.json({ entry: entryView(row!) }, 201);
  } catch (e) {
    if (e instanceof AlreadyApplied) throw new ApiError("conflict", "a credit with this Idempotency-Key was already made");
    throw e;
  }
});
