/**
 * The ledger's hash chain. Each entry's hash is SHA-256 over the previous entry's hash and the
 * entry's canonical fields, in a fixed order with an unambiguous separator, so that changing any
 * field of any entry (or reordering, inserting or deleting one) breaks every hash after it.
 */
export const GENESIS_HASH = "0".repeat(64);

export type LedgerKind = "topup" | "credit" | "hold" | "release" | "charge" | "provider_earning" | "platform_fee" | "payout" | "refund";

export interface ChainedFields {
  seq: number;
  id: string;
  kind: LedgerKind;
  userId: string | null;
  contractId: string | null;
  transactionId: string | null;
  amountMicro: number;
  memo: string | null;
  idempotencyKey: string;
  createdAt: number;
}

/** JSON of an array: strings are escaped, nulls are explicit, field order is fixed. */
export function canonicalEntry(e: ChainedFields): string {
  return JSON.stringify([e.seq, e.id, e.kind, e.userId, e.contractId, e.transactionId, e.amountMicro, e.memo, e.idempotencyKey, e.createdAt]);
}

export async function chainHash(prevHash: string, e: ChainedFields): Promise<string> {
  const data = new TextEncoder().encode(`${prevHash}\n${canonicalEntry(e)}`);
  const digest = await crypto.subtle.digest("SHA-256", data);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export interface ChainRow extends ChainedFields {
  prevHash: string;
  hash: string;
}

export type ChainBreak = { seq: number; id: string; reason: "prev_hash_mismatch" | "hash_mismatch" | "seq_gap"; expected: string; actual: string };

/**
 * Checks a run of consecutive entries against the hash before them. Returns the first broken link,
 * or null. Pure: the caller pages through storage and carries `prevHash`/`prevSeq` along.
 */
export async function verifyRun(rows: ChainRow[], prevHash: string, prevSeq: number): Promise<{ broken: ChainBreak | null; lastHash: string; lastSeq: number }> {
  let hash = prevHash;
  let seq = prevSeq;
  for (const r of rows) {
    if (r.seq !== seq + 1) return { broken: { seq: r.seq, id: r.id, reason: "seq_gap", expected: String(seq + 1), actual: String(r.seq) }, lastHash: hash, lastSeq: seq };
    if (r.prevHash !== hash) return { broken: { seq: r.seq, id: r.id, reason: "prev_hash_mismatch", expected: hash, actual: r.prevHash }, lastHash: hash, lastSeq: seq };
    const expected = await chainHash(hash, r);
    if (expected !== r.hash) return { broken: { seq: r.seq, id: r.id, reason: "hash_mismatch", expected, actual: r.hash }, lastHash: hash, lastSeq: seq };
    hash = r.hash;
    seq = r.seq;
  }
  return { broken: null, lastHash: hash, lastSeq: seq };
}
