// Helpers for the money tests: contracts that run, settle and owe; the fake Stripe and Ethereum
// servers' records; Stripe-signed webhook deliveries.
import Stripe from "stripe";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { expect } from "vitest";
import { api, credit, env, ready, register, registerNode, type Account, type NodeInput } from "./helpers";

export async function balanceOf(a: Account) {
  const r = await api("GET", "/api/billing/balance", { token: a.token });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body as {
    balance_usd: number;
    held_usd: number;
    available_usd: number;
    burn_rate_usd_per_hour: number;
    runway_sec: number | null;
  };
}

/** The raw D1 row: integer money, exactly as stored. */
export async function contractRow(id: string) {
  return (await env.DB.prepare(`SELECT * FROM contracts WHERE id = ?`).bind(id).first<Record<string, any>>())!;
}

export async function clientRow(userId: string) {
  return (await env.DB.prepare(`SELECT * FROM clients WHERE user_id = ?`)
    .bind(userId)
    .first<{ id: string; balance_micro: number; held_micro: number }>())!;
}

export async function ledgerOf(filter: { contractId?: string; userId?: string; transactionId?: string }) {
  const conds: string[] = [];
  const params: string[] = [];
  if (filter.contractId) conds.push("contract_id = ?"), params.push(filter.contractId);
  if (filter.userId) conds.push("user_id = ?"), params.push(filter.userId);
  if (filter.transactionId) conds.push("transaction_id = ?"), params.push(filter.transactionId);
  const r = await env.DB.prepare(`SELECT * FROM ledger_entries ${conds.length ? "WHERE " + conds.join(" AND ") : ""} ORDER BY seq`)
    .bind(...params)
    .all<Record<string, any>>();
  return r.results;
}

export interface Setup {
  renter: Account;
  provider: Account;
  node: any;
}

/** A provider with one node and a renter credited with `creditUsd`. */
export async function market(creditUsd: number, nodeInput: NodeInput = {}): Promise<Setup> {
  const provider = await register("provider");
  const renter = await register("user");
  const node = await registerNode(provider, nodeInput);
  if (creditUsd > 0) await credit(renter.id, creditUsd);
  return { renter, provider, node };
}

export async function createContract(s: Setup, body: { ram_gb: number; vram_gb: number; duration_sec: number; auto_renew?: boolean }) {
  const r = await api("POST", "/api/contracts/create", { token: s.renter.token, body: { node_id: s.node.id, ...body } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.contract as any;
}

/** The node's heartbeat delivers its pending contracts and its agent makes each one ready (active). */
export async function heartbeat(s: Setup) {
  // The node's previous heartbeat moves a minute back, so the per-node rate limit lets this one in.
  await env.DB.prepare(`UPDATE nodes SET last_heartbeat_at = last_heartbeat_at - 60000 WHERE id = ? AND last_heartbeat_at IS NOT NULL`)
    .bind(s.node.id)
    .run();
  const r = await api("POST", `/api/nodes/${s.node.id}/heartbeat`, {
    token: s.provider.token,
    body: { available_ram_gb: s.node.total_ram_gb ?? 64, available_vram_gb: s.node.total_vram_gb ?? 24 },
  });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  for (const k of r.body.contracts) if (k.status === "pending") await ready(s.provider, s.node.id, k.id);
  return r.body;
}

/** Moves an active contract's clock: its term started `agoMs` before now (end moves with it). */
export async function shiftStart(contractId: string, agoMs: number) {
  const k = await contractRow(contractId);
  const start = Date.now() - agoMs;
  await env.DB.prepare(`UPDATE contracts SET start_time = ?1, end_time = ?1 + term_sec * 1000 WHERE id = ?2`).bind(start, contractId).run();
  return { start, end: start + k.term_sec * 1000 };
}

/** Waits for the settlement queue to have settled a contract (settlement_hash set). */
export async function settled(contractId: string, timeoutMs = 10_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const k = await contractRow(contractId);
    if (k.settlement_hash) return k;
    if (Date.now() > until)
      throw new Error(`contract ${contractId} was not settled in ${timeoutMs} ms (status ${k.status}, ended_at ${k.ended_at})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---- fake Stripe -----------------------------------------------------------------------------

export interface StripeRecord {
  method: string;
  path: string;
  idempotencyKey: string | null;
  params: Record<string, any>;
  status: number;
}

export async function stripeRequests(filter: (r: StripeRecord) => boolean = () => true): Promise<StripeRecord[]> {
  const r = await fetch(`${env.STRIPE_API_BASE}/__requests`);
  return ((await r.json()) as { requests: StripeRecord[] }).requests.filter(filter);
}

const signer = new Stripe("sk_test_signer", { httpClient: Stripe.createFetchHttpClient() });

/** A webhook delivery signed like Stripe signs it (t=…,v1=HMAC-SHA256(secret, `${t}.${payload}`)). */
export async function deliverEvent(
  event: Record<string, unknown>,
  opts: { secret?: string; timestamp?: number; header?: string | null } = {},
) {
  const payload = JSON.stringify({
    object: "event",
    api_version: "2024-06-20",
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    ...event,
  });
  const header =
    opts.header !== undefined
      ? opts.header
      : await signer.webhooks.generateTestHeaderStringAsync({
          payload,
          secret: opts.secret ?? env.STRIPE_WEBHOOK_SECRET!,
          timestamp: opts.timestamp ?? Math.floor(Date.now() / 1000),
          cryptoProvider: Stripe.createSubtleCryptoProvider(),
        });
  return api("POST", "/api/payments/webhook", { raw: payload, headers: header === null ? {} : { "stripe-signature": header } });
}

// ---- fake Ethereum ---------------------------------------------------------------------------

export const PLATFORM = () => env.PLATFORM_ETH_ADDRESS!;
export const USDC = () => env.USDC_CONTRACT_ADDRESS!;

export async function chainHead(set?: number): Promise<number> {
  const r = await fetch(
    `${env.ETH_RPC_URL}/__control/head`,
    set === undefined ? {} : { method: "POST", body: JSON.stringify({ head: set }) },
  );
  return ((await r.json()) as { head: number }).head;
}

export async function putTransfer(t: {
  hash: string;
  from: string;
  to: string;
  amount: string;
  blockNumber: number;
  token?: string;
  status?: 0 | 1;
}) {
  await fetch(`${env.ETH_RPC_URL}/__control/transfer`, { method: "POST", body: JSON.stringify({ token: USDC(), ...t }) });
}

export const randomHex = (bytes: number) =>
  "0x" + [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");

/** A contract on `s.node` that ran `ranMs` and was settled (waits for the queue). */
export async function settledContract(
  s: Setup,
  opts: { ram_gb: number; vram_gb: number; duration_sec: number; ranMs: number; egressGb?: number },
) {
  const k = await createContract(s, { ram_gb: opts.ram_gb, vram_gb: opts.vram_gb, duration_sec: opts.duration_sec });
  await heartbeat(s);
  await shiftStart(k.id, opts.ranMs);
  const r = await api("POST", `/api/contracts/${k.id}/settle`, {
    token: s.renter.token,
    ...(opts.egressGb ? { body: { actual_egress_gb: opts.egressGb } } : {}),
  });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return settled(k.id);
}

/**
 * A real secp256k1 key pair standing for a renter's Ethereum wallet. It signs like a wallet's
 * `personal_sign` (EIP-191): keccak-256 of "\x19Ethereum Signed Message:\n" + length + message,
 * then an ECDSA signature returned as r ‖ s ‖ v with v = 27 + recovery id. Written here from the
 * libraries directly (not from the product's code), so the product's verification is checked
 * against an independent signer.
 */
export function ethWallet(secretKey: Uint8Array = secp256k1.utils.randomSecretKey()) {
  const pub = secp256k1.getPublicKey(secretKey, false).subarray(1);
  const address = "0x" + bytesToHex(keccak_256(pub).subarray(12));
  return {
    address,
    signMessage(message: string): string {
      const msg = new TextEncoder().encode(message);
      const digest = keccak_256(new Uint8Array([...new TextEncoder().encode(`\x19Ethereum Signed Message:\n${msg.length}`), ...msg]));
      const rec = secp256k1.sign(digest, secretKey, { prehash: false, format: "recovered" }); // recid ‖ r ‖ s
      return "0x" + bytesToHex(rec.subarray(1)) + (27 + rec[0]).toString(16);
    },
  };
}

/** Claims and verifies a fresh wallet for `a` (the API's proof flow); returns the wallet. */
export async function provenWallet(a: Account) {
  const w = ethWallet();
  const claim = await api("POST", "/api/payments/wallets", { token: a.token, body: { blockchain: "ethereum", address: w.address } });
  expect(claim.status, JSON.stringify(claim.body)).toBe(201);
  const verified = await api("POST", `/api/payments/wallets/${claim.body.wallet.id}/verify`, {
    token: a.token,
    body: { signature: w.signMessage(claim.body.challenge) },
  });
  expect(verified.status, JSON.stringify(verified.body)).toBe(200);
  expect(verified.body.wallet.verified).toBe(true);
  return w;
}
