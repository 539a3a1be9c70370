/**
 * The wallets table: a user's blockchain addresses and their ownership proofs. A verified address
 * belongs to one account (a partial unique index); an unverified one may be claimed by several.
 * Imports only db/schema and domain/.
 */

export interface WalletRow {
  id: string;
  user_id: string;
  blockchain: string;
  address: string;
  challenge: string;
  verified_at: number | null;
  created_at: number;
}

export async function hasVerifiedWallet(d1: D1Database, userId: string, blockchain: string, address: string): Promise<boolean> {
  const row = await d1
    .prepare(`SELECT 1 AS x FROM wallets WHERE user_id = ? AND blockchain = ? AND address = ? AND verified_at IS NOT NULL`)
    .bind(userId, blockchain, address)
    .first();
  return row !== null;
}

/** The user's Ethereum wallet with this address, verified or not. */
export async function walletOfUser(d1: D1Database, userId: string, address: string): Promise<WalletRow | null> {
  return d1
    .prepare(`SELECT * FROM wallets WHERE user_id = ? AND blockchain = 'ethereum' AND address = ?`)
    .bind(userId, address)
    .first<WalletRow>();
}

/** Whether any account has verified this Ethereum address. */
export async function walletVerifiedByAnyone(d1: D1Database, address: string): Promise<boolean> {
  const taken = await d1
    .prepare(`SELECT 1 AS x FROM wallets WHERE blockchain = 'ethereum' AND address = ? AND verified_at IS NOT NULL`)
    .bind(address)
    .first();
  return taken !== null;
}

/** A fresh challenge, only while the wallet is unverified. */
export async function setChallengeIfUnverified(d1: D1Database, id: string, challenge: string): Promise<void> {
  await d1.prepare(`UPDATE wallets SET challenge = ? WHERE id = ? AND verified_at IS NULL`).bind(challenge, id).run();
}

export async function insertEthereumWallet(d1: D1Database, w: WalletRow): Promise<void> {
  await d1
    .prepare(
      `INSERT INTO wallets (id, user_id, blockchain, address, challenge, verified_at, created_at) VALUES (?, ?, 'ethereum', ?, ?, NULL, ?)`,
    )
    .bind(w.id, w.user_id, w.address, w.challenge, w.created_at)
    .run();
}

export async function findWalletOfUser(d1: D1Database, id: string, userId: string): Promise<WalletRow | null> {
  return d1.prepare(`SELECT * FROM wallets WHERE id = ? AND user_id = ?`).bind(id, userId).first<WalletRow>();
}

export async function findWallet(d1: D1Database, id: string): Promise<WalletRow | null> {
  return d1.prepare(`SELECT * FROM wallets WHERE id = ?`).bind(id).first<WalletRow>();
}

/** Verified once; throws on the partial unique index when another account verified the address first. */
export async function markVerifiedIfUnverified(d1: D1Database, id: string, now: number): Promise<void> {
  await d1.prepare(`UPDATE wallets SET verified_at = ? WHERE id = ? AND verified_at IS NULL`).bind(now, id).run();
}

export async function walletsOfUser(d1: D1Database, userId: string): Promise<WalletRow[]> {
  const rows = await d1.prepare(`SELECT * FROM wallets WHERE user_id = ? ORDER BY created_at`).bind(userId).all<WalletRow>();
  return rows.results;
}
