import type { Env } from "../env";
import { GENESIS_HASH, verifyRun, type ChainRow, type LedgerKind } from "../domain/ledger";
import { iso } from "../lib/time";

export function entryView(r: Record<string, unknown>) {
  return {
    id: r.id as string,
    seq: r.seq as number,
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

/** Walks the chain from the genesis in pages, so a long ledger never has to fit in memory. */
export async function verifyLedger(env: Env) {
  let prevHash = GENESIS_HASH;
  let prevSeq = 0;
  let checked = 0;
  for (;;) {
    const page = await env.DB.prepare(`SELECT * FROM ledger_entries WHERE seq > ? ORDER BY seq LIMIT ?`).bind(prevSeq, PAGE).all<Record<string, unknown>>();
    const rows: ChainRow[] = page.results.map((r) => ({
      seq: r.seq as number,
      id: r.id as string,
      kind: r.kind as LedgerKind,
      userId: r.user_id as string | null,
      contractId: r.contract_id as string | null,
      transactionId: r.transaction_id as string | null,
      amountMicro: r.amount_micro as number,
      memo: r.memo as string | null,
      idempotencyKey: r.idempotency_key as string,
      createdAt: r.created_at as number,
      prevHash: r.prev_hash as string,
      hash: r.hash as string,
    }));
    if (!rows.length) return { ok: true, entries_checked: checked, head_hash: prevHash, first_broken: null };
    const run = await verifyRun(rows, prevHash, prevSeq);
    if (run.broken) return { ok: false, entries_checked: checked + rows.findIndex((r) => r.seq === run.broken!.seq) + 1, head_hash: prevHash, first_broken: run.broken };
    checked += rows.length;
    prevHash = run.lastHash;
    prevSeq = run.lastSeq;
  }
}
