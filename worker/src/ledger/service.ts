/**
 * Writing money. Every balance movement is a ledger entry appended in the same D1 batch as the
 * balance update it records, so the two can never disagree. D1 cannot lock, so:
 * - the balance rules are enforced by SQLite itself (CHECK constraints and the triggers of
 *   migrations/0001_money_guards.sql raise `insufficient_funds` / `budget_exceeded`);
 * - the chain position is claimed optimistically: `seq` = head + 1 is the primary key, so a writer
 *   that raced another one fails on the key, re-reads the head and tries again;
 * - each effect carries an idempotency key (unique), so a redelivered message or replayed webhook
 *   fails on that key and changes nothing.
 */
import { ApiError } from "../lib/errors";
import { monthKey } from "../lib/time";
import { GENESIS_HASH, chainHash, type LedgerKind } from "../domain/ledger";

export interface EntryDraft {
  kind: LedgerKind;
  userId: string | null;
  contractId?: string | null;
  transactionId?: string | null;
  amountMicro: number;
  memo?: string | null;
  idempotencyKey: string;
}

export interface PostedEntry extends EntryDraft {
  seq: number;
  id: string;
  createdAt: number;
  prevHash: string;
  hash: string;
}

/** Thrown when an effect's idempotency key is already in the ledger: it happened before. */
export class AlreadyApplied extends Error {
  constructor(readonly key: string) {
    super(`already applied: ${key}`);
  }
}

const MAX_ATTEMPTS = 40;

function classify(e: unknown): "seq" | "idempotent" | "insufficient_funds" | "budget_exceeded" | "other" {
  const m = String((e as Error)?.message ?? e);
  if (m.includes("insufficient_funds") || m.includes("clients_held_within_balance") || m.includes("clients_balance_nonnegative")) return "insufficient_funds";
  if (m.includes("budget_exceeded")) return "budget_exceeded";
  if (m.includes("ledger_entries.idempotency_key") || m.includes("ledger_idempotency_unique")) return "idempotent";
  if (m.includes("ledger_entries.seq") || m.includes("ledger_id_unique") || m.includes("ledger_entries.id")) return "seq";
  return "other";
}

/**
 * Runs `statements` and appends `drafts` to the chain, atomically. `statements` is a function of
 * the entries about to be posted (their hashes are known before the batch runs), called anew on
 * each retry.
 */
export async function postLedger(
  db: D1Database,
  drafts: EntryDraft[],
  statements: (posted: PostedEntry[]) => D1PreparedStatement[] | Promise<D1PreparedStatement[]>,
): Promise<PostedEntry[]> {
  for (let attempt = 0; ; attempt++) {
    const head = await db.prepare("SELECT seq, hash FROM ledger_entries ORDER BY seq DESC LIMIT 1").first<{ seq: number; hash: string }>();
    let seq = head?.seq ?? 0;
    let prev = head?.hash ?? GENESIS_HASH;
    const now = Date.now();
    const posted: PostedEntry[] = [];
    for (const d of drafts) {
      seq += 1;
      const entry = { ...d, contractId: d.contractId ?? null, transactionId: d.transactionId ?? null, memo: d.memo ?? null, seq, id: crypto.randomUUID(), createdAt: now };
      const hash = await chainHash(prev, entry);
      posted.push({ ...entry, prevHash: prev, hash });
      prev = hash;
    }
    const inserts = posted.map((p) =>
      db
        .prepare(
          `INSERT INTO ledger_entries (seq, id, kind, user_id, contract_id, transaction_id, amount_micro, memo, idempotency_key, created_at, prev_hash, hash)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .bind(p.seq, p.id, p.kind, p.userId, p.contractId, p.transactionId, p.amountMicro, p.memo, p.idempotencyKey, p.createdAt, p.prevHash, p.hash),
    );
    try {
      await db.batch([...(await statements(posted)), ...inserts]);
      return posted;
    } catch (e) {
      const kind = classify(e);
      if (kind === "seq" && attempt < MAX_ATTEMPTS) {
        // Another writer took this place in the chain; back off a little and take the next one.
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 + attempt * 3)));
        continue;
      }
      if (kind === "idempotent") throw new AlreadyApplied(drafts.map((d) => d.idempotencyKey).join(","));
      if (kind === "insufficient_funds") throw new ApiError("insufficient_funds", "your available balance cannot cover this; top up first");
      if (kind === "budget_exceeded") throw new ApiError("budget_exceeded", "this would take this month's spend past your monthly budget");
      throw e;
    }
  }
}

// ---- balance statements (renter accounts live on `clients`) -------------------------------

/** Grows a renter's hold (and this month's committed spend); the triggers refuse what cannot be covered. */
export function holdStatement(db: D1Database, clientId: string, amountMicro: number, now = Date.now()) {
  const month = monthKey(now);
  return db
    .prepare(
      `UPDATE clients SET held_micro = held_micro + ?1,
         spend_month_micro = (CASE WHEN spend_month IS ?2 THEN spend_month_micro ELSE held_micro END) + ?1,
         spend_month = ?2, updated_at = ?3
       WHERE id = ?4`,
    )
    .bind(amountMicro, month, now, clientId);
}

/** Gives back part of a hold that will not be charged. */
export function releaseStatement(db: D1Database, clientId: string, amountMicro: number, now = Date.now()) {
  const month = monthKey(now);
  return db
    .prepare(
      `UPDATE clients SET held_micro = held_micro - ?1,
         spend_month_micro = MAX(0, (CASE WHEN spend_month IS ?2 THEN spend_month_micro ELSE held_micro END) - ?1),
         spend_month = ?2, updated_at = ?3
       WHERE id = ?4`,
    )
    .bind(amountMicro, month, now, clientId);
}

/**
 * Settles a hold: `chargedMicro` leaves the balance, the whole `holdMicro` stops being held, and
 * this month's committed spend keeps only what was charged.
 */
export function chargeStatement(db: D1Database, clientId: string, holdMicro: number, chargedMicro: number, now = Date.now()) {
  const month = monthKey(now);
  return db
    .prepare(
      `UPDATE clients SET balance_micro = balance_micro - ?2, held_micro = held_micro - ?1,
         spend_month_micro = MAX(0, (CASE WHEN spend_month IS ?3 THEN spend_month_micro ELSE held_micro END) - ?1 + ?2),
         spend_month = ?3, updated_at = ?4
       WHERE id = ?5`,
    )
    .bind(holdMicro, chargedMicro, month, now, clientId);
}

/** Money in (top-up, credit, refund reversal): the balance grows. */
export function creditStatement(db: D1Database, clientId: string, amountMicro: number, now = Date.now()) {
  return db.prepare(`UPDATE clients SET balance_micro = balance_micro + ?1, updated_at = ?2 WHERE id = ?3`).bind(amountMicro, now, clientId);
}

/** Money out of the balance that is not a contract charge (a refunded top-up). Never below zero: the CHECK refuses. */
export function debitStatement(db: D1Database, clientId: string, amountMicro: number, now = Date.now()) {
  return db.prepare(`UPDATE clients SET balance_micro = balance_micro - ?1, updated_at = ?2 WHERE id = ?3`).bind(amountMicro, now, clientId);
}
