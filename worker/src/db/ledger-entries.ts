/**
 * Reads of the ledger_entries table outside the ledger's own writer (ledger/service.ts appends;
 * nothing here writes). Imports only db/schema and domain/.
 */
import type { ChainedFields, LedgerKind } from "../domain/ledger";

/** An entry's own fields, as its hash covers them, from a raw ledger_entries row (its place in a chain is the caller's). */
export function entryFieldsFromRaw(r: Record<string, unknown>): Omit<ChainedFields, "account" | "accountSeq"> {
  return {
    id: r.id as string,
    kind: r.kind as LedgerKind,
    userId: r.user_id as string | null,
    contractId: r.contract_id as string | null,
    transactionId: r.transaction_id as string | null,
    amountMicro: r.amount_micro as number,
    memo: r.memo as string | null,
    idempotencyKey: r.idempotency_key as string,
    createdAt: r.created_at as number,
  };
}

/** The idempotency keys of a transaction's refund entries (each names the cumulative refunded cents). */
export async function refundKeysOf(d1: D1Database, transactionId: string): Promise<string[]> {
  const prior = await d1
    .prepare(`SELECT idempotency_key FROM ledger_entries WHERE transaction_id = ? AND kind = 'refund'`)
    .bind(transactionId)
    .all<{ idempotency_key: string }>();
  return prior.results.map((r) => r.idempotency_key);
}

/** A provider's earnings account: all `provider_earning` entries in, all `payout` entries out (as a positive sum). */
export async function earnedAndPaidOut(d1: D1Database, userId: string): Promise<{ earned: number; paid: number }> {
  const row = await d1
    .prepare(
      `SELECT COALESCE(SUM(CASE WHEN kind = 'provider_earning' THEN amount_micro ELSE 0 END), 0) AS earned,
            COALESCE(-SUM(CASE WHEN kind = 'payout' THEN amount_micro ELSE 0 END), 0) AS paid
     FROM ledger_entries WHERE user_id = ? AND kind IN ('provider_earning', 'payout')`,
    )
    .bind(userId)
    .first<{ earned: number; paid: number }>();
  return { earned: row?.earned ?? 0, paid: row?.paid ?? 0 };
}

/** A ledger entry as D1 returns it (snake_case), by its idempotency key. */
export async function entryByKey(d1: D1Database, idempotencyKey: string): Promise<Record<string, unknown> | null> {
  return d1.prepare(`SELECT * FROM ledger_entries WHERE idempotency_key = ?`).bind(idempotencyKey).first<Record<string, unknown>>();
}

export async function entryById(d1: D1Database, id: string): Promise<Record<string, unknown> | null> {
  return d1.prepare(`SELECT * FROM ledger_entries WHERE id = ?`).bind(id).first<Record<string, unknown>>();
}

/** A page of ledger entries, newest first, of one user or (userId null) of everyone, and how many there are. */
export async function pageOfLedgerEntries(
  d1: D1Database,
  userId: string | null,
  limit: number,
  offset: number,
): Promise<{ rows: Record<string, unknown>[]; total: number }> {
  const where = userId ? "WHERE user_id = ?" : "";
  const params = userId ? [userId] : [];
  const [rows, count] = await d1.batch([
    d1.prepare(`SELECT * FROM ledger_entries ${where} ORDER BY seq DESC LIMIT ? OFFSET ?`).bind(...params, limit, offset),
    d1.prepare(`SELECT COUNT(*) AS n FROM ledger_entries ${where}`).bind(...params),
  ]);
  return { rows: rows.results as Record<string, unknown>[], total: (count.results[0] as { n: number }).n };
}

/** Up to `limit` entries after `cursor` in (account, account_seq) order: one page of a walk over every chain. */
export async function ledgerEntriesAfter(d1: D1Database, cursor: [string, number], limit: number): Promise<Record<string, unknown>[]> {
  const page = await d1
    .prepare(
      `SELECT * FROM ledger_entries WHERE account > ?1 OR (account = ?1 AND account_seq > ?2) ORDER BY account, account_seq LIMIT ?3`,
    )
    .bind(cursor[0], cursor[1], limit)
    .all<Record<string, unknown>>();
  return page.results;
}
