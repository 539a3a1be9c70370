/**
 * Proof of wallet ownership for USDC payments. A transaction hash is public the moment it is
 * broadcast, so "I sent it" must be proven: the caller claims an address, the server hands out a
 * challenge naming the account, the address and a random nonce, and the wallet signs it with
 * `personal_sign` (EIP-191). The signature is checked with @noble/curves (secp256k1 public-key
 * recovery) and @noble/hashes (keccak-256), audited libraries; nothing here is hand-made crypto
 * beyond the EIP-191 framing and the address derivation (the last 20 bytes of keccak(pubkey)).
 *
 * A verified address belongs to one account (a partial unique index): a second account cannot
 * verify it, because it cannot sign for it.
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import type { Env } from "../env";
import { forbidden } from "../lib/errors";
import { iso } from "../lib/time";
import { hasVerifiedWallet, type WalletRow } from "../db/wallets";

export const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

export const SIGNATURE = /^0x[0-9a-fA-F]{130}$/;

const enc = new TextEncoder();

function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

function fromHex(hex: string): Uint8Array {
  const h = hex.replace(/^0x/, "");
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** EIP-191 version 0x45: keccak256("\x19Ethereum Signed Message:\n" + byte length + message). */
export function personalMessageHash(message: string): Uint8Array {
  const body = enc.encode(message);
  const prefix = enc.encode(`\x19Ethereum Signed Message:\n${body.length}`);
  const all = new Uint8Array(prefix.length + body.length);
  all.set(prefix);
  all.set(body, prefix.length);
  return keccak_256(all);
}

/** The Ethereum address of an uncompressed or compressed secp256k1 public key, lower-case. */
export function addressOfPublicKey(publicKey: Uint8Array): string {
  const point = secp256k1.Point.fromBytes(publicKey);
  const raw = point.toBytes(false).subarray(1); // 64 bytes x || y
  return "0x" + toHex(keccak_256(raw).subarray(12));
}

/**
 * The address that produced `signature` (65 bytes r || s || v, v ∈ {27, 28} or {0, 1}, as wallets
 * return it) over `message`, or null for anything malformed. High-s signatures are refused
 * (EIP-2), so one signature has one valid encoding.
 */
export function recoverPersonalSigner(message: string, signature: string): string | null {
  if (!SIGNATURE.test(signature)) return null;
  const bytes = fromHex(signature);
  const v = bytes[64];
  const recovery = v >= 27 ? v - 27 : v;
  if (recovery !== 0 && recovery !== 1) return null;
  try {
    const sig = secp256k1.Signature.fromBytes(bytes.subarray(0, 64), "compact").addRecoveryBit(recovery);
    if (sig.hasHighS()) return null;
    const point = sig.recoverPublicKey(personalMessageHash(message));
    return addressOfPublicKey(point.toBytes(false));
  } catch {
    return null;
  }
}

export type { WalletRow };

export function walletView(w: WalletRow) {
  return {
    id: w.id,
    blockchain: "ethereum" as const,
    address: w.address,
    verified: w.verified_at !== null,
    verified_at: iso(w.verified_at),
    created_at: iso(w.created_at)!,
  };
}

/** The text the wallet signs: readable in the wallet's prompt, bound to this account and address. */
export function challengeText(userId: string, address: string, nonce: string, issuedAt: number): string {
  return [
    "Mnemo asks you to prove that you control this wallet, so that USDC payments from it are credited to your account only.",
    "Signing costs nothing and authorises no transaction.",
    "",
    `Account: ${userId}`,
    `Wallet: ${address}`,
    `Nonce: ${nonce}`,
    `Issued: ${new Date(issuedAt).toISOString()}`,
  ].join("\n");
}

/** Throws 403 unless `userId` has verified `address` on `blockchain`. */
export async function assertVerifiedWallet(env: Env, userId: string, blockchain: string, address: string): Promise<void> {
  if (!(await hasVerifiedWallet(env.DB, userId, blockchain, address.toLowerCase())))
    throw forbidden(
      "wallet_address is not a verified wallet of yours: POST /api/payments/wallets, sign the challenge, then POST /api/payments/wallets/{id}/verify",
    );
}
