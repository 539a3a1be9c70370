/**
 * The one-time re-chain of entries written before per-account chains (migration 0004 cannot
 * compute SHA-256 in SQL). Legacy entries (`chain_version = 1`) are walked in their original global
 * order; each is given its account (the user, else the platform's fee account of its contract's
 * region), its place in that account's chain and the recomputed hashes, and becomes version 2.
 * Deterministic and guarded by `chain_version = 1`, so it is idempotent and two isolates running it
 * at once write the same values (or one finds the work done).
 */
import { entryFieldsFromRaw } from "../db/ledger-entries";
import { GENESIS_HASH, chainHash, platformAccount } from "../domain/ledger";

const PAGE = 500;

let done: Promise<void> | null = null;

/** Re-chains once per isolate before the first append; afterwards it costs nothing. */
export function ensureRechained(db: D1Database): Promise<void> {
  done ??= rechainLegacy(db).then(
    () => undefined,
    (e) => {
      done = null;
      throw e;
    },
  );
  return done;
}

/** Returns how many legacy entries it re-chained (0 when there are none: one indexed query). */
export async function rechainLegacy(db: D1Database): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await rechainOnce(db);
    } catch (e) {
      // Another isolate re-chained part of an account meanwhile: start over from what is stored.
      if (attempt < 5 && String((e as Error)?.message ?? e).includes("UNIQUE")) continue;
      throw e;
    }
  }
}

async function rechainOnce(db: D1Database): Promise<number> {
  const heads = new Map<string, { seq: number; hash: string }>();
  let total = 0;
  for (;;) {
    const page = await db
      .prepare(
        `SELECT l.*, k.region AS contract_region FROM ledger_entries l LEFT JOIN contracts k ON k.id = l.contract_id
         WHERE l.chain_version = 1 ORDER BY l.seq LIMIT ?`,
      )
      .bind(PAGE)
      .all<Record<string, unknown>>();
    if (!page.results.length) return total;
    const updates: D1PreparedStatement[] = [];
    for (const r of page.results) {
      const account = (r.user_id as string | null) ?? platformAccount(r.contract_region as string | null);
      let head = heads.get(account);
      if (!head) {
        const h = await db
          .prepare(`SELECT account_seq, hash FROM ledger_entries WHERE account = ? AND chain_version = 2 ORDER BY account_seq DESC LIMIT 1`)
          .bind(account)
          .first<{ account_seq: number; hash: string }>();
        head = { seq: h?.account_seq ?? 0, hash: h?.hash ?? GENESIS_HASH };
      }
      const entry = {
        account,
        accountSeq: head.seq + 1,
        ...entryFieldsFromRaw(r),
      };
      const hash = await chainHash(head.hash, entry);
      updates.push(
        db
          .prepare(
            `UPDATE ledger_entries SET account = ?1, account_seq = ?2, prev_hash = ?3, hash = ?4, chain_version = 2 WHERE seq = ?5 AND chain_version = 1`,
          )
          .bind(account, entry.accountSeq, head.hash, hash, r.seq),
      );
      heads.set(account, { seq: entry.accountSeq, hash });
    }
    await db.batch(updates);
    total += page.results.length;
  }
}
