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
import { createRoute, z } from "@hono/zod-openapi";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import type { Env } from "../env";
import { caller, requireAuth } from "../lib/auth";
import { ApiError, conflict, forbidden, invalid, notFound } from "../lib/errors";
import { createRouter, errors, jsonBody, jsonContent, security } from "../lib/openapi";
import { iso } from "../lib/time";

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const SIGNATURE = /^0x[0-9a-fA-F]{130}$/;
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

interface WalletRow {
  id: string;
  user_id: string;
  blockchain: string;
  address: string;
  challenge: string;
  verified_at: number | null;
  created_at: number;
}

const WalletSchema = z
  .object({
    id: z.uuid(),
    blockchain: z.literal("ethereum"),
    address: z.string().openapi({ description: "Lower-case 0x-prefixed address", example: "0x8ba1f109551bd432803012645ac136ddd64dba72" }),
    verified: z.boolean(),
    verified_at: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi("Wallet");

function walletView(w: WalletRow) {
  return { id: w.id, blockchain: "ethereum" as const, address: w.address, verified: w.verified_at !== null, verified_at: iso(w.verified_at), created_at: iso(w.created_at)! };
}

/** The text the wallet signs: readable in the wallet's prompt, bound to this account and address. */
function challengeText(userId: string, address: string, nonce: string, issuedAt: number): string {
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
  const row = await env.DB.prepare(`SELECT 1 AS x FROM wallets WHERE user_id = ? AND blockchain = ? AND address = ? AND verified_at IS NOT NULL`)
    .bind(userId, blockchain, address.toLowerCase())
    .first();
  if (!row) throw forbidden("wallet_address is not a verified wallet of yours: POST /api/payments/wallets, sign the challenge, then POST /api/payments/wallets/{id}/verify");
}

const tags = ["Payments"];
const auth = [...security.bearer];

const createWallet = createRoute({
  method: "post",
  path: "/api/payments/wallets",
  tags,
  security: auth,
  middleware: [requireAuth()] as const,
  summary: "Claim a wallet for USDC payments; returns the challenge to sign",
  description: [
    "USDC payments (`POST /api/payments/crypto`) are credited only from a wallet the caller has proven to control: the transaction hash is public, so naming it proves nothing.",
    "This returns `challenge`, a text naming the account, the address and a random nonce. Sign it with the wallet's `personal_sign` (EIP-191; e.g. `eth_sign`-style `personal_sign` in MetaMask, `wallet.signMessage` in ethers/viem) and send the signature to `POST /api/payments/wallets/{id}/verify`.",
    "Claiming the same address again issues a fresh challenge (the old one stops working) until it is verified; a verified wallet is returned as it is. Only `ethereum` is supported.",
  ].join("\n\n"),
  request: {
    body: jsonBody(
      z
        .object({
          blockchain: z.enum(["ethereum", "solana"]).openapi({ description: "Only ethereum is supported now; solana answers 400 unsupported_blockchain" }),
          address: z.string().regex(ADDRESS, "must be 0x followed by 40 hex digits").openapi({ example: "0x8ba1f109551bd432803012645ac136ddd64dba72" }),
        })
        .openapi("WalletClaim"),
    ),
  },
  responses: {
    201: jsonContent(z.object({ wallet: WalletSchema, challenge: z.string().openapi({ description: "The exact text to sign with personal_sign" }) }), "The wallet and its challenge"),
    ...errors(401, 409),
  },
});

const verifyWallet = createRoute({
  method: "post",
  path: "/api/payments/wallets/{id}/verify",
  tags,
  security: auth,
  middleware: [requireAuth()] as const,
  summary: "Prove control of a claimed wallet with its signature of the challenge",
  description:
    "`signature`: the 65-byte `personal_sign` result as 0x-hex (r ‖ s ‖ v, v 27/28 or 0/1; high-s refused). The signer recovered from it must be the wallet's address, else 400. Another account's wallet id is 404. An address already verified by another account is 409.",
  request: {
    params: z.object({ id: z.uuid().openapi({ param: { name: "id", in: "path" } }) }),
    body: jsonBody(z.object({ signature: z.string().regex(SIGNATURE, "must be 0x followed by 130 hex digits (65 bytes)") }).openapi("WalletProof")),
  },
  responses: { 200: jsonContent(z.object({ wallet: WalletSchema }), "The verified wallet"), ...errors(401, 404, 409) },
});

const listWallets = createRoute({
  method: "get",
  path: "/api/payments/wallets",
  tags,
  security: auth,
  middleware: [requireAuth()] as const,
  summary: "The caller's wallets, verified or not",
  responses: { 200: jsonContent(z.object({ wallets: z.array(WalletSchema) }), "Wallets"), ...errors(401) },
});

export const walletsRouter = createRouter()
  .openapi(createWallet, async (c) => {
    const b = c.req.valid("json");
    if (b.blockchain !== "ethereum") throw new ApiError("unsupported_blockchain", `${b.blockchain} wallets are not supported yet; use ethereum`);
    const me = caller(c);
    const address = b.address.toLowerCase();
    const now = Date.now();
    const existing = await c.env.DB.prepare(`SELECT * FROM wallets WHERE user_id = ? AND blockchain = 'ethereum' AND address = ?`).bind(me.id, address).first<WalletRow>();
    if (existing?.verified_at) return c.json({ wallet: walletView(existing), challenge: existing.challenge }, 201);
    const taken = await c.env.DB.prepare(`SELECT 1 AS x FROM wallets WHERE blockchain = 'ethereum' AND address = ? AND verified_at IS NOT NULL`).bind(address).first();
    if (taken) throw conflict("this wallet is already verified by another account");
    const challenge = challengeText(me.id, address, crypto.randomUUID(), now);
    let row: WalletRow;
    if (existing) {
      await c.env.DB.prepare(`UPDATE wallets SET challenge = ? WHERE id = ? AND verified_at IS NULL`).bind(challenge, existing.id).run();
      row = { ...existing, challenge };
    } else {
      row = { id: crypto.randomUUID(), user_id: me.id, blockchain: "ethereum", address, challenge, verified_at: null, created_at: now };
      await c.env.DB.prepare(`INSERT INTO wallets (id, user_id, blockchain, address, challenge, verified_at, created_at) VALUES (?, ?, 'ethereum', ?, ?, NULL, ?)`)
        .bind(row.id, me.id, address, challenge, now)
        .run();
    }
    return c.json({ wallet: walletView(row), challenge }, 201);
  })
  .openapi(verifyWallet, async (c) => {
    const { id } = c.req.valid("param");
    const { signature } = c.req.valid("json");
    const me = caller(c);
    const w = await c.env.DB.prepare(`SELECT * FROM wallets WHERE id = ? AND user_id = ?`).bind(id, me.id).first<WalletRow>();
    if (!w) throw notFound("wallet");
    if (w.verified_at) return c.json({ wallet: walletView(w) }, 200);
    const signer = recoverPersonalSigner(w.challenge, signature);
    if (signer !== w.address) throw invalid("signature", "is not this wallet's personal_sign signature of the challenge");
    try {
      await c.env.DB.prepare(`UPDATE wallets SET verified_at = ? WHERE id = ? AND verified_at IS NULL`).bind(Date.now(), id).run();
    } catch (e) {
      // The partial unique index: another account verified this address first.
      if (String((e as Error)?.message ?? e).includes("UNIQUE")) throw conflict("this wallet is already verified by another account");
      throw e;
    }
    const fresh = (await c.env.DB.prepare(`SELECT * FROM wallets WHERE id = ?`).bind(id).first<WalletRow>())!;
    return c.json({ wallet: walletView(fresh) }, 200);
  })
  .openapi(listWallets, async (c) => {
    const rows = await c.env.DB.prepare(`SELECT * FROM wallets WHERE user_id = ? ORDER BY created_at`).bind(caller(c).id).all<WalletRow>();
    return c.json({ wallets: rows.results.map(walletView) }, 200);
  });
