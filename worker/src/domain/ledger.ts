/**
 * The ledger's hash chains, one per account (a renter, a provider, the platform's fee account of a
 * region). Each entry's hash is SHA-256 over the account's previous hash and the entry's canonical
 * fields, in a fixed order with an unambiguous separator, so that changing any field of any entry
 * (or reordering, inserting or deleting one) breaks every later hash of that account. A platform
 * root hashes every account's head, so one value pins the whole ledger for an audit.
 */
export const GENESIS_HASH = "0".repeat(64);

export type LedgerKind = "topup" | "credit" | "hold" | "release" | "charge" | "provider_earning" | "platform_fee" | "payout" | "refund";

export interface ChainedFields {
  account: string;
  accountSeq: number;
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

/** The platform's fee account for a region: fees shard by region so no one chain carries them all. */
export const platformAccount = (region: string | null | undefined) => `platform:${region ?? "global"}`;

/** JSON of an array: strings are escaped, nulls are explicit, field order is fixed. */
export function canonicalEntry(e: ChainedFields): string {
  return JSON.stringify([
    e.account,
    e.accountSeq,
    e.id,
    e.kind,
    e.userId,
    e.contractId,
    e.transactionId,
    e.amountMicro,
    e.memo,
    e.idempotencyKey,
    e.createdAt,
  ]);
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export async function chainHash(prevHash: string, e: ChainedFields): Promise<string> {
  return sha256Hex(`${prevHash}\n${canonicalEntry(e)}`);
}

/** SHA-256 over every account's head, sorted by account: changes when any chain changes. */
export async function platformRoot(heads: { account: string; accountSeq: number; hash: string }[]): Promise<string> {
  const sorted = [...heads].sort((a, b) => (a.account < b.account ? -1 : a.account > b.account ? 1 : 0));
  return sha256Hex(sorted.map((h) => `${h.account}\t${h.accountSeq}\t${h.hash}`).join("\n"));
}

export interface ChainRow extends ChainedFields {
  seq: number;
  prevHash: string;
  hash: string;
}

export type ChainBreak = {
  account: string;
  seq: number;
  account_seq: number;
  id: string;
  reason: "prev_hash_mismatch" | "hash_mismatch" | "seq_gap";
  expected: string;
  actual: string;
};

/**
 * Checks a run of consecutive entries of one account against the hash before them. Returns the
 * first broken link, or null. Pure: the caller pages through storage and carries
 * `prevHash`/`prevSeq` along.
 */
export async function verifyRun(
  rows: ChainRow[],
  prevHash: string,
  prevSeq: number,
): Promise<{ broken: ChainBreak | null; lastHash: string; lastSeq: number }> {
  let hash = prevHash;
  let seq = prevSeq;
  for (const r of rows) {
    const at = { account: r.account, seq: r.seq, account_seq: r.accountSeq, id: r.id };
    if (r.accountSeq !== seq + 1)
      return {
        broken: { ...at, reason: "seq_gap", expected: String(seq + 1), actual: String(r.accountSeq) },
        lastHash: hash,
        lastSeq: seq,
      };
    if (r.prevHash !== hash)
      return { broken: { ...at, reason: "prev_hash_mismatch", expected: hash, actual: r.prevHash }, lastHash: hash, lastSeq: seq };
    const expected = await chainHash(hash, r);
    if (expected !== r.hash) return { broken: { ...at, reason: "hash_mismatch", expected, actual: r.hash }, lastHash: hash, lastSeq: seq };
    hash = r.hash;
    seq = r.accountSeq;
  }
  return { broken: null, lastHash: hash, lastSeq: seq };
}
