import { entryFieldsFromRaw, ledgerEntriesAfter } from "../db/ledger-entries";
import type { Env } from "../env";
import { GENESIS_HASH, platformRoot, verifyRun, type ChainBreak, type ChainRow, type LedgerKind } from "../domain/ledger";
import { rechainLegacy } from "../ledger/rechain";
import { iso } from "../lib/time";

export function entryView(r: Record<string, unknown>) {
  return {
    id: r.id as string,
    seq: r.seq as number,
    account: (r.account as string | null) ?? null,
    account_seq: (r.account_seq as number | null) ?? null,
    kind: r.kind as LedgerKind,
    amount_usd: (r.amount_micro as number) / 1e6,
    contract_id: (r.contract_id as string | null) ?? null,
    transaction_id: (r.transaction_id as string | null) ?? null,
    memo: (r.memo as string | null) ?? null,
    created_at: iso(r.created_at as number)!,
    hash: r.hash as string,
    prev_hash: r.prev_hash as string,
  };
}

const PAGE = 500;

const toChainRow = (r: Record<string, unknown>): ChainRow => ({
  ...entryFieldsFromRaw(r),
  seq: r.seq as number,
  account: r.account as string,
  accountSeq: r.account_seq as number,
  prevHash: r.prev_hash as string,
  hash: r.hash as string,
});

/**
 * Walks every account's chain from its genesis, in pages (keyset on account, account_seq), so a
 * long ledger never has to fit in memory. Reports the first broken link of each broken account,
 * and the platform root: SHA-256 over every account's head (`head_hash` is the same value, kept
 * for clients of the single-chain ledger).
 */
export async function verifyLedger(env: Env) {
  await rechainLegacy(env.DB); // entries from before per-account chains get their hashes first
  let checked = 0;
  let account: string | null = null;
  let prevHash = GENESIS_HASH;
  let prevSeq = 0;
  let skipAccount = false;
  const heads: { account: string; accountSeq: number; hash: string }[] = [];
  const broken: ChainBreak[] = [];
  let cursor: [string, number] = ["", 0];
  for (;;) {
    const page = await ledgerEntriesAfter(env.DB, cursor, PAGE);
    if (!page.length) break;
    for (const raw of page) {
      const r = toChainRow(raw);
      if (r.account !== account) {
        if (account !== null) heads.push({ account, accountSeq: prevSeq, hash: prevHash });
        account = r.account;
        prevHash = GENESIS_HASH;
        prevSeq = 0;
        skipAccount = false;
      }
      checked++;
      if (skipAccount) {
        prevSeq = r.accountSeq;
        prevHash = r.hash;
        continue;
      }
      const run = await verifyRun([r], prevHash, prevSeq);
      if (run.broken) {
        broken.push(run.broken);
        skipAccount = true; // one break per account: everything after it is suspect anyway
      }
      prevHash = r.hash;
      prevSeq = r.accountSeq;
    }
    const last = page[page.length - 1];
    cursor = [last.account as string, last.account_seq as number];
  }
  if (account !== null) heads.push({ account, accountSeq: prevSeq, hash: prevHash });
  const root = await platformRoot(heads);
  const first = broken.reduce<ChainBreak | null>((min, b) => (min === null || b.seq < min.seq ? b : min), null);
  return {
    ok: broken.length === 0,
    entries_checked: checked,
    accounts_checked: heads.length,
    head_hash: root,
    root_hash: root,
    first_broken: first,
    broken_accounts: broken,
  };
}
