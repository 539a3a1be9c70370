/**
 * Writing money. Every balance movement is a ledger entry appended in the same D1 batch as the
 * balance update it records, so the two can never disagree. D1 cannot lock, so:
 * - the balance rules are enforced by SQLite itself (CHECK constraints and the triggers of
 *   migrations/0001_money_guards.sql and 0004_account_ledgers.sql raise `insufficient_funds` /
 *   `budget_exceeded`);
 * - each account has its own chain (domain/ledger.ts); its next place, `account_seq` = head + 1,
 *   is unique per account. Inside one isolate, appends to the same account wait for each other
 *   (accountLock below), so they never collide; writers in other isolates can still race, and the
 *   loser fails on the unique key, re-reads the head and tries again (docs/scale.md: why this
 *   cannot run out of attempts);
 * - each effect carries an idempotency key (unique), so a redelivered message or replayed webhook
 *   fails on that key and changes nothing;
 * - a change that must only happen while a contract row is still as it was read (extend, renew)
 *   passes a guard: every statement of the batch, the ledger rows included, applies only while
 *   the guard holds, so a hold never exists without the contract row that carries it.
 */
import { ApiError } from "../lib/errors";
import { monthKey } from "../lib/time";
import { GENESIS_HASH, chainHash, platformAccount, type LedgerKind } from "../domain/ledger";
import { ensureRechained } from "./rechain";

export interface EntryDraft {
  kind: LedgerKind;
  /** The user whose account moves; null for the platform's fee account. */
  userId: string | null;
  contractId?: string | null;
  transactionId?: string | null;
  amountMicro: number;
  memo?: string | null;
  idempotencyKey: string;
  /** The chain to append to; by default the user's, or the platform's fee account of the contract's region. */
  account?: string;
}

export interface PostedEntry extends EntryDraft {
  account: string;
  accountSeq: number;
  id: string;
  createdAt: number;
  prevHash: string;
  hash: string;
}

/** A condition (SQL with plain `?` placeholders) every statement of a guarded batch repeats. */
export interface Guard {
  sql: string;
  binds: unknown[];
}

/** Thrown when an effect's idempotency key is already in the ledger: it happened before. */
export class AlreadyApplied extends Error {
  constructor(readonly key: string) {
    super(`already applied: ${key}`);
  }
}

/** Cross-isolate races only (same-isolate appends queue on accountLock); see docs/scale.md. */
const MAX_ATTEMPTS = 200;

function classify(e: unknown): "seq" | "idempotent" | "insufficient_funds" | "budget_exceeded" | "other" {
  const m = String((e as Error)?.message ?? e);
  if (m.includes("insufficient_funds") || m.includes("clients_held_within_balance") || m.includes("clients_balance_nonnegative"))
    return "insufficient_funds";
  if (m.includes("budget_exceeded")) return "budget_exceeded";
  if (m.includes("ledger_entries.idempotency_key") || m.includes("ledger_idempotency_unique")) return "idempotent";
  if (
    m.includes("ledger_entries.account_seq") ||
    m.includes("ledger_account_seq_unique") ||
    m.includes("ledger_id_unique") ||
    m.includes("ledger_entries.id")
  )
    return "seq";
  return "other";
}

// ---- per-account serialisation inside one isolate --------------------------------------------

/**
 * Accounts being appended to by a request of this isolate, with the time their claim lapses. A
 * waiter polls on its own timer rather than awaiting a promise another request resolves: workerd
 * cancels a request that waits only on another request's promise as hung. The lease frees the
 * accounts of a request that was cancelled mid-append.
 */
const claimed = new Map<string, number>();
const LEASE_MS = 10_000;

/**
 * Runs `fn` while this request alone (in this isolate) appends to `accounts`. All the accounts are
 * claimed at once, synchronously, so two multi-account appends can never each hold one and wait
 * for the other: no deadlock.
 */
async function accountLock<T>(accounts: string[], fn: () => Promise<T>): Promise<T> {
  const mine = [...new Set(accounts)];
  for (let wait = 1; ; wait = Math.min(wait * 2, 16)) {
    const now = Date.now();
    if (mine.every((a) => (claimed.get(a) ?? 0) <= now)) {
      for (const a of mine) claimed.set(a, now + LEASE_MS);
      break;
    }
    await new Promise((r) => setTimeout(r, wait * (0.5 + Math.random())));
  }
  try {
    return await fn();
  } finally {
    for (const a of mine) claimed.delete(a);
  }
}

/**
 * The last head this isolate wrote or read per account. Only used under accountLock, so no request
 * of this isolate can have moved it; a writer in another isolate can, and then the append fails on
 * (account, account_seq), the entry is dropped and the head read again. Saves one D1 round trip
 * per append on the hot path.
 */
const knownHeads = new Map<string, { seq: number; hash: string }>();
const KNOWN_HEADS_MAX = 50_000;

async function headsOf(db: D1Database, accounts: string[]): Promise<Map<string, { seq: number; hash: string }>> {
  const missing = accounts.filter((a) => !knownHeads.has(a));
  if (missing.length) {
    const rows = await db.batch(
      missing.map((a) =>
        db.prepare(`SELECT account_seq, hash FROM ledger_entries WHERE account = ? ORDER BY account_seq DESC LIMIT 1`).bind(a),
      ),
    );
    if (knownHeads.size > KNOWN_HEADS_MAX) knownHeads.clear();
    missing.forEach((a, i) => {
      const h = rows[i].results[0] as { account_seq: number; hash: string } | undefined;
      knownHeads.set(a, { seq: h?.account_seq ?? 0, hash: h?.hash ?? GENESIS_HASH });
    });
  }
  return new Map(accounts.map((a) => [a, knownHeads.get(a)!]));
}

/** Test hook: forget the cached heads (as a fresh isolate would). */
export function forgetKnownHeads() {
  knownHeads.clear();
}

async function resolveAccounts(db: D1Database, drafts: EntryDraft[]): Promise<string[]> {
  const regions = new Map<string, string | null>();
  for (const d of drafts) {
    if (d.account || d.userId || !d.contractId || regions.has(d.contractId)) continue;
    const k = await db.prepare(`SELECT region FROM contracts WHERE id = ?`).bind(d.contractId).first<{ region: string }>();
    regions.set(d.contractId, k?.region ?? null);
  }
  return drafts.map((d) => d.account ?? d.userId ?? platformAccount(d.contractId ? regions.get(d.contractId) : null));
}

const INSERT_COLUMNS = `(id, kind, user_id, contract_id, transaction_id, amount_micro, memo, idempotency_key, created_at, prev_hash, hash, account, account_seq, chain_version)`;

/**
 * Runs `statements` and appends `drafts` to their accounts' chains, atomically. `statements` is a
 * function of the entries about to be posted (their hashes are known before the batch runs),
 * called anew on each retry. With a `guard`, the ledger rows are written only while it holds and
 * `applied` says whether they were (the caller guards its own statements the same way).
 */
export async function appendLedger(
  db: D1Database,
  drafts: EntryDraft[],
  statements: (posted: PostedEntry[]) => D1PreparedStatement[] | Promise<D1PreparedStatement[]>,
  guard?: Guard,
): Promise<{ posted: PostedEntry[]; applied: boolean }> {
  await ensureRechained(db);
  const accounts = await resolveAccounts(db, drafts);
  const unique = [...new Set(accounts)];
  return accountLock(unique, async () => {
    for (let attempt = 0; ; attempt++) {
      const head = await headsOf(db, unique);
      const now = Date.now();
      const posted: PostedEntry[] = [];
      for (let i = 0; i < drafts.length; i++) {
        const d = drafts[i];
        const h = head.get(accounts[i])!;
        const entry = {
          ...d,
          contractId: d.contractId ?? null,
          transactionId: d.transactionId ?? null,
          memo: d.memo ?? null,
          account: accounts[i],
          accountSeq: h.seq + 1,
          id: crypto.randomUUID(),
          createdAt: now,
        };
        const hash = await chainHash(h.hash, entry);
        posted.push({ ...entry, prevHash: h.hash, hash });
        head.set(accounts[i], { seq: entry.accountSeq, hash });
      }
      const inserts = posted.map((p) => {
        const values = [
          p.id,
          p.kind,
          p.userId,
          p.contractId,
          p.transactionId,
          p.amountMicro,
          p.memo,
          p.idempotencyKey,
          p.createdAt,
          p.prevHash,
          p.hash,
          p.account,
          p.accountSeq,
          2,
        ];
        return guard
          ? db
              .prepare(`INSERT INTO ledger_entries ${INSERT_COLUMNS} SELECT ${values.map(() => "?").join(", ")} WHERE ${guard.sql}`)
              .bind(...values, ...guard.binds)
          : db.prepare(`INSERT INTO ledger_entries ${INSERT_COLUMNS} VALUES (${values.map(() => "?").join(", ")})`).bind(...values);
      });
      // With a guard the ledger rows go first, while the guarded rows are still as read.
      const own = await statements(posted);
      try {
        let results: D1Result[];
        try {
          results = await db.batch(guard ? [...inserts, ...own] : [...own, ...inserts]);
        } catch (e) {
          // Refused (nothing written): the cached heads stay right, unless another isolate moved one.
          if (classify(e) === "other" || classify(e) === "seq") for (const a of unique) knownHeads.delete(a);
          throw e;
        }
        const applied = guard ? results[0].meta.changes === 1 : true;
        if (applied) for (const p of posted) knownHeads.set(p.account, { seq: p.accountSeq, hash: p.hash });
        return { posted, applied };
      } catch (e) {
        const kind = classify(e);
        if (kind === "seq" && attempt < MAX_ATTEMPTS) {
          // A writer in another isolate took this place in the chain; back off a little and take the next one.
          await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 + attempt * 3)));
          continue;
        }
        if (kind === "idempotent") throw new AlreadyApplied(drafts.map((d) => d.idempotencyKey).join(","));
        if (kind === "insufficient_funds")
          throw new ApiError("insufficient_funds", "your available balance cannot cover this; top up first");
        if (kind === "budget_exceeded")
          throw new ApiError("budget_exceeded", "this would take this month's spend past your monthly budget");
        throw e;
      }
    }
  });
}

/** An unguarded append (top-ups, credits, settlement): see appendLedger. */
export async function postLedger(
  db: D1Database,
  drafts: EntryDraft[],
  statements: (posted: PostedEntry[]) => D1PreparedStatement[] | Promise<D1PreparedStatement[]>,
): Promise<PostedEntry[]> {
  return (await appendLedger(db, drafts, statements)).posted;
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
  return db
    .prepare(`UPDATE clients SET balance_micro = balance_micro + ?1, updated_at = ?2 WHERE id = ?3`)
    .bind(amountMicro, now, clientId);
}

/** Money out of the balance that is not a contract charge (a refunded top-up). Never below zero: the CHECK refuses. */
export function debitStatement(db: D1Database, clientId: string, amountMicro: number, now = Date.now()) {
  return db
    .prepare(`UPDATE clients SET balance_micro = balance_micro - ?1, updated_at = ?2 WHERE id = ?3`)
    .bind(amountMicro, now, clientId);
}

/**
 * holdStatement, applied only while `guard` (on the contract row that will carry the hold) holds:
 * the guard's plain `?` placeholders number on from ?5 (SQLite numbers a bare `?` one past the
 * largest number already used).
 */
export function holdIfStatement(db: D1Database, clientId: string, amountMicro: number, guard: Guard, now = Date.now()) {
  const month = monthKey(now);
  return db
    .prepare(
      `UPDATE clients SET held_micro = held_micro + ?1,
         spend_month_micro = (CASE WHEN spend_month IS ?2 THEN spend_month_micro ELSE held_micro END) + ?1,
         spend_month = ?2, updated_at = ?3
       WHERE id = ?4 AND ${guard.sql}`,
    )
    .bind(amountMicro, month, now, clientId, ...guard.binds);
}

/** chargeStatement, applied only while `guard` holds (its `?` number on from ?6). */
export function chargeIfStatement(
  db: D1Database,
  clientId: string,
  holdMicro: number,
  chargedMicro: number,
  guard: Guard,
  now = Date.now(),
) {
  const month = monthKey(now);
  return db
    .prepare(
      `UPDATE clients SET balance_micro = balance_micro - ?2, held_micro = held_micro - ?1,
         spend_month_micro = MAX(0, (CASE WHEN spend_month IS ?3 THEN spend_month_micro ELSE held_micro END) - ?1 + ?2),
         spend_month = ?3, updated_at = ?4
       WHERE id = ?5 AND ${guard.sql}`,
    )
    .bind(holdMicro, chargedMicro, month, now, clientId, ...guard.binds);
}
