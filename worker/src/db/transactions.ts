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

export async function transactionByKey(d1: D1Database, idempotencyKey: string): Promise<RawTransaction | null> {
  return d1.prepare(`SELECT * FROM transactions WHERE idempotency_key = ?`).bind(idempotencyKey).first<RawTransaction>();
}

export async function transactionByStripePayment(d1: D1Database, paymentIntentId: string): Promise<RawTransaction | null> {
  return d1.prepare(`SELECT * FROM transactions WHERE stripe_payment_id = ?`).bind(paymentIntentId).first<RawTransaction>();
}

/** A Stripe transaction by its id (null for a crypto one). */
export async function stripeTransaction(d1: D1Database, id: string): Promise<RawTransaction | null> {
  return d1.prepare(`SELECT * FROM transactions WHERE id = ? AND payment_method = 'stripe'`).bind(id).first<RawTransaction>();
}

/** A pending Stripe top-up, once per idempotency key (a second insert with the same key does nothing). */
export async function insertPendingStripeTransaction(
  d1: D1Database,
  t: { id: string; userId: string; contractId: string | null; amountMicro: number; key: string; now: number },
): Promise<void> {
  await d1
    .prepare(
      `INSERT INTO transactions (id, user_id, contract_id, amount_micro, payment_method, status, idempotency_key, created_at) VALUES (?1, ?2, ?3, ?4, 'stripe', 'pending', ?5, ?6)
       ON CONFLICT (idempotency_key) DO NOTHING`,
    )
    .bind(t.id, t.userId, t.contractId, t.amountMicro, t.key, t.now)
    .run();
}

/** Records the PaymentIntent, unless one is recorded already. */
export async function rememberStripePayment(d1: D1Database, id: string, paymentIntentId: string): Promise<void> {
  await d1
    .prepare(`UPDATE transactions SET stripe_payment_id = COALESCE(stripe_payment_id, ?1) WHERE id = ?2`)
    .bind(paymentIntentId, id)
    .run();
}

/** `refunded` once the whole amount is refunded (for the ledger batch of the refund). */
export function markRefundedIfFullyStatement(d1: D1Database, id: string, fully: boolean): D1PreparedStatement {
  return d1.prepare(`UPDATE transactions SET status = CASE WHEN ?1 THEN 'refunded' ELSE status END WHERE id = ?2`).bind(fully ? 1 : 0, id);
}

/** Claims an Ethereum transaction hash for a user: one row per hash (a second claim does nothing). */
export async function claimEthereumTransaction(
  d1: D1Database,
  t: { id: string; userId: string; contractId: string | null; amountMicro: number; txHash: string; wallet: string; now: number },
): Promise<void> {
  await d1
    .prepare(
      `INSERT INTO transactions (id, user_id, contract_id, amount_micro, payment_method, status, blockchain, tx_hash, wallet_address, created_at)
       VALUES (?1, ?2, ?3, ?4, 'crypto', 'pending', 'ethereum', ?5, ?6, ?7) ON CONFLICT (blockchain, tx_hash) DO NOTHING`,
    )
    .bind(t.id, t.userId, t.contractId, t.amountMicro, t.txHash, t.wallet, t.now)
    .run();
}

export async function ethereumTransaction(d1: D1Database, txHash: string): Promise<RawTransaction | null> {
  return d1.prepare(`SELECT * FROM transactions WHERE blockchain = 'ethereum' AND tx_hash = ?`).bind(txHash).first<RawTransaction>();
}

/** Removes a claim that was never credited (a completed one stays). */
export async function dropUncompletedTransaction(d1: D1Database, id: string): Promise<void> {
  await d1.prepare(`DELETE FROM transactions WHERE id = ? AND status != 'completed'`).bind(id).run();
}

/** Removes a claim still pending. */
export async function dropPendingTransaction(d1: D1Database, id: string): Promise<void> {
  await d1.prepare(`DELETE FROM transactions WHERE id = ? AND status = 'pending'`).bind(id).run();
}

/** Failed, only while pending, with the amount the chain showed (if it showed one). */
export async function failChainTransactionIfPending(d1: D1Database, id: string, reason: string, amountMicro: number | null): Promise<void> {
  await d1
    .prepare(
      `UPDATE transactions SET status = 'failed', failure_reason = ?1, amount_micro = COALESCE(?2, amount_micro) WHERE id = ?3 AND status = 'pending'`,
    )
    .bind(reason, amountMicro, id)
    .run();
}

/** Still pending: records the amount the chain shows so far and why it is not complete yet. */
export async function noteChainProgressIfPending(
  d1: D1Database,
  id: string,
  amountMicro: number | null,
  reason: string | null,
): Promise<void> {
  await d1
    .prepare(`UPDATE transactions SET amount_micro = COALESCE(?1, amount_micro), failure_reason = ?2 WHERE id = ?3 AND status = 'pending'`)
    .bind(amountMicro, reason, id)
    .run();
}
