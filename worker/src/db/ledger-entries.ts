/**
 * Reads of the ledger_entries table outside the ledger's own writer (ledger/service.ts appends;
 * nothing here writes). Imports only db/schema and domain/.
 */

/** The idempotency keys of a transaction's refund entries (each names the cumulative refunded cents). */
export async function refundKeysOf(d1: D1Database, transactionId: string): Promise<string[]> {
  const prior = await d1
    .prepare(`SELECT idempotency_key FROM ledger_entries WHERE transaction_id = ? AND kind = 'refund'`)
    .bind(transactionId)
    .all<{ idempotency_key: string }>();
  return prior.results.map((r) => r.idempotency_key);
}
