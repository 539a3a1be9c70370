import { createRoute, z } from "@hono/zod-openapi";
import { requireAdmin, requireAuth } from "../lib/auth";
import { errors, jsonContent, security } from "../lib/openapi";

const tags = ["Billing"];
const auth = [...security.bearer];

export const BalanceSchema = z
  .object({
    balance_usd: z.number(),
    held_usd: z.number(),
    available_usd: z.number(),
    burn_rate_usd_per_hour: z.number(),
    runway_sec: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "Seconds until the balance is empty at the current burn rate; null when nothing runs" }),
  })
  .openapi("Balance");

export const LedgerEntrySchema = z
  .object({
    id: z.uuid(),
    seq: z.number().int().openapi({ description: "Global insertion order; the hash chain is per account (account, account_seq)" }),
    account: z
      .string()
      .nullable()
      .openapi({ description: "The chain this entry belongs to: a user id, or platform:<region> for the platform's fee account" }),
    account_seq: z.number().int().nullable(),
    kind: z.enum(["topup", "credit", "hold", "release", "charge", "provider_earning", "platform_fee", "payout", "refund"]),
    amount_usd: z.number().openapi({
      description:
        "Signed, from the account's side: money in is positive; a hold is negative (it leaves the available balance), its release positive",
    }),
    contract_id: z.uuid().nullable(),
    transaction_id: z.string().nullable(),
    memo: z.string().nullable(),
    created_at: z.string(),
    hash: z.string(),
    prev_hash: z.string(),
  })
  .openapi("LedgerEntry");

export const ChainBreakSchema = z
  .object({
    account: z.string(),
    seq: z.number().int(),
    account_seq: z.number().int(),
    id: z.string(),
    reason: z.string(),
    expected: z.string(),
    actual: z.string(),
  })
  .openapi("LedgerChainBreak");

export const balance = createRoute({
  method: "get",
  path: "/api/billing/balance",
  tags,
  security: auth,
  middleware: [requireAuth()] as const,
  summary: "The caller's prepaid balance, holds, burn rate and runway",
  responses: { 200: jsonContent(BalanceSchema, "The balance"), ...errors(401) },
});

export const ledger = createRoute({
  method: "get",
  path: "/api/billing/ledger",
  tags,
  security: auth,
  middleware: [requireAuth()] as const,
  summary: "The caller's ledger entries, newest first (admins: every entry, or one user's with user_id)",
  request: {
    query: z.object({
      user_id: z.uuid().optional(),
      limit: z.coerce.number().int().min(1).max(500).default(50),
      offset: z.coerce.number().int().min(0).default(0),
    }),
  },
  responses: {
    200: jsonContent(z.object({ entries: z.array(LedgerEntrySchema), total_count: z.number().int() }), "Entries"),
    ...errors(401),
  },
});

export const verify = createRoute({
  method: "get",
  path: "/api/billing/ledger/verify",
  tags,
  security: auth,
  middleware: [requireAdmin()] as const,
  summary: "Re-walk every account's hash chain and report the first broken link per account (admin)",
  description:
    "Each account (a renter, a provider, platform:<region> for the platform's fees) has its own chain. root_hash (also head_hash) is SHA-256 over every account's head (account, account_seq, hash, sorted by account): one value that pins the whole ledger. first_broken is the earliest (by global seq) of the broken links in broken_accounts.",
  responses: {
    200: jsonContent(
      z.object({
        ok: z.boolean(),
        entries_checked: z.number().int(),
        accounts_checked: z.number().int(),
        head_hash: z.string(),
        root_hash: z.string(),
        first_broken: ChainBreakSchema.nullable(),
        broken_accounts: z.array(ChainBreakSchema),
      }),
      "Verification result",
    ),
    ...errors(401, 403),
  },
});
