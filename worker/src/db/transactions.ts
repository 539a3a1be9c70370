/**
 * The transactions table: money coming in from outside (Stripe, USDC). Imports only db/schema and
 * domain/ (lib/ imports db/schema, so nothing here may import lib/ at run time).
 */
import type { TransactionRow } from "./schema";

/** A transactions row as D1 returns it (snake_case). */
export type RawTransaction = {
  id: string;
  user_id: string;
  contract_id: string | null;
  amount_micro: number;
  payment_method: "stripe" | "crypto";
  status: TransactionRow["status"];
  stripe_payment_id: string | null;
  blockchain: string | null;
  tx_hash: string | null;
  wallet_address: string | null;
  idempotency_key: string | null;
  failure_reason: string | null;
  created_at: number;
  settled_at: number | null;
};

export async function findTransaction(d1: D1Database, id: string): Promise<RawTransaction | null> {
  return d1.prepare(`SELECT * FROM transactions WHERE id = ?`).bind(id).first<RawTransaction>();
}

/** Completed with the amount credited (for the ledger batch that credits it). */
export function completeTransactionStatement(
  d1: D1Database,
  id: string,
  amountMicro: number,
  stripePaymentId: string | null,
  now: number,
): D1PreparedStatement {
  return d1
    .prepare(
      `UPDATE transactions SET status = 'completed', amount_micro = ?1, stripe_payment_id = COALESCE(stripe_payment_id, ?2), failure_reason = NULL, settled_at = ?3 WHERE id = ?4`,
    )
    .bind(amountMicro, stripePaymentId, now, id);
}

/** Failed, only while pending: a completed or refunded transaction is never turned back into a failure. */
export async function failTransactionIfPending(d1: D1Database, id: string, reason: string, stripePaymentId: string | null): Promise<void> {
  await d1
    .prepare(
      `UPDATE transactions SET status = 'failed', failure_reason = ?1, stripe_payment_id = COALESCE(stripe_payment_id, ?2) WHERE id = ?3 AND status = 'pending'`,
    )
    .bind(reason, stripePaymentId, id)
    .run();
}
