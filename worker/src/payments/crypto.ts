/**
 * USDC on Ethereum. The renter sends USDC to PLATFORM_ETH_ADDRESS and tells us the transaction
 * hash; we read the receipt from ETH_RPC_URL and credit the balance when it holds a successful
 * USDC Transfer to the platform, from the wallet the renter named, buried under at least
 * ETH_MIN_CONFIRMATIONS blocks. USDC has 6 decimals, so a token unit is exactly one micro-USD.
 *
 * Who may claim a payment: only an account that proved it controls the sending wallet
 * (payments/wallets.ts, EIP-191). A tx hash is public, so the hash alone proves nothing:
 * - wallet_address must be one of the caller's verified wallets (403 otherwise, nothing written);
 * - the transfer must come from that wallet: a claim whose receipt shows another sender is
 *   released at once (403, no row kept), so nobody can squat on someone else's hash;
 * - each tx_hash counts once (unique (blockchain, tx_hash)); the same user asking again gets the
 *   same transaction back (re-checked while pending). A hash held by another account while still
 *   unproven (submitted before it was mined) yields to the proven sender: when the receipt shows
 *   the transfer came from the caller's verified wallet, the other claim is dropped and the
 *   caller's stands. A completed payment is never moved (409 for anyone else).
 */
import type { Env } from "../env";
import { ApiError, invalid } from "../lib/errors";
import { paymentsUnavailable } from "./stripe";
import { assertVerifiedWallet } from "./wallets";
import { collectOutstanding, completeTransaction, loadTransaction, ownContractForPayment, type RawTransaction } from "./transactions";
import {
  claimEthereumTransaction,
  dropPendingTransaction,
  dropUncompletedTransaction,
  ethereumTransaction,
  failChainTransactionIfPending,
  noteChainProgressIfPending,
} from "../db/transactions";

export const TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const TX_HASH = /^0x[0-9a-fA-F]{64}$/;
const WORD = /^0x[0-9a-fA-F]{64}$/;

interface ChainConfig {
  rpcUrl: string;
  platform: string;
  usdc: string;
  minConfirmations: number;
}

function chainConfig(env: Env): ChainConfig {
  const platform = env.PLATFORM_ETH_ADDRESS?.trim().toLowerCase();
  const usdc = env.USDC_CONTRACT_ADDRESS?.trim().toLowerCase();
  if (!env.ETH_RPC_URL || !platform || !usdc || !ADDRESS.test(platform) || !ADDRESS.test(usdc))
    throw paymentsUnavailable("USDC payments are not configured on this server");
  const n = Number(env.ETH_MIN_CONFIRMATIONS ?? "12");
  return { rpcUrl: env.ETH_RPC_URL, platform, usdc, minConfirmations: Number.isInteger(n) && n >= 1 ? n : 12 };
}

async function rpc<T>(cfg: ChainConfig, method: string, params: unknown[]): Promise<T> {
  let res: Response;
  try {
    res = await fetch(cfg.rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    });
  } catch (e) {
    console.error(JSON.stringify({ level: "error", where: "eth_rpc", method, error: String(e) }));
    throw paymentsUnavailable("the Ethereum node is not answering; try again");
  }
  const body = (await res.json().catch(() => null)) as { result?: T; error?: { message?: string } } | null;
  if (!res.ok || !body || body.error || !("result" in body)) {
    console.error(JSON.stringify({ level: "error", where: "eth_rpc", method, status: res.status, error: body?.error?.message }));
    throw paymentsUnavailable("the Ethereum node answered with an error; try again");
  }
  return body.result as T;
}

interface Log {
  address: string;
  topics: string[];
  data: string;
}
interface Receipt {
  status: string;
  blockNumber: string;
  logs: Log[];
}

/** A 32-byte topic holding an address: 12 zero bytes, then the 20-byte address. */
function topicAddress(topic: string): string | null {
  if (!WORD.test(topic) || !/^0x0{24}/.test(topic)) return null;
  return "0x" + topic.slice(26).toLowerCase();
}

export type Verdict =
  | { state: "pending"; confirmations: number; amountMicro: number | null; reason: string }
  | { state: "failed"; confirmations: number; amountMicro: number | null; reason: string }
  | { state: "confirmed"; confirmations: number; amountMicro: number };

/** Pure: what a receipt says about a USDC payment to the platform from `wallet`. */
export function judgeReceipt(
  cfg: Pick<ChainConfig, "platform" | "usdc" | "minConfirmations">,
  receipt: Receipt | null,
  head: bigint,
  wallet: string,
  expectedMicro?: number,
): Verdict {
  if (!receipt) return { state: "pending", confirmations: 0, amountMicro: null, reason: "the transaction is not mined yet" };
  const confirmations = Number(head - BigInt(receipt.blockNumber) + 1n);
  if (receipt.status !== "0x1") return { state: "failed", confirmations, amountMicro: null, reason: "the transaction reverted on chain" };
  const toUs = receipt.logs.filter(
    (l) =>
      l.address?.toLowerCase() === cfg.usdc &&
      l.topics?.[0]?.toLowerCase() === TRANSFER_TOPIC &&
      l.topics.length === 3 &&
      topicAddress(l.topics[2]) === cfg.platform,
  );
  if (!toUs.length)
    return { state: "failed", confirmations, amountMicro: null, reason: "the transaction has no USDC transfer to the platform address" };
  const fromWallet = toUs.filter((l) => topicAddress(l.topics[1]) === wallet.toLowerCase());
  if (!fromWallet.length)
    return { state: "failed", confirmations, amountMicro: null, reason: "the USDC transfer did not come from wallet_address" };
  let units = 0n;
  for (const l of fromWallet) {
    if (!WORD.test(l.data)) return { state: "failed", confirmations, amountMicro: null, reason: "malformed Transfer log" };
    units += BigInt(l.data);
  }
  if (units === 0n) return { state: "failed", confirmations, amountMicro: 0, reason: "the transfer's amount is zero" };
  if (units > BigInt(Number.MAX_SAFE_INTEGER))
    return { state: "failed", confirmations, amountMicro: null, reason: "the transfer's amount is too large to credit automatically" };
  const amountMicro = Number(units); // 6 decimals: one USDC unit is one micro-USD
  if (expectedMicro !== undefined && expectedMicro !== amountMicro) {
    return {
      state: "failed",
      confirmations,
      amountMicro,
      reason: `the transfer carries ${amountMicro / 1e6} USDC, not the declared ${expectedMicro / 1e6}`,
    };
  }
  if (confirmations < cfg.minConfirmations)
    return { state: "pending", confirmations, amountMicro, reason: `${confirmations} of ${cfg.minConfirmations} confirmations` };
  return { state: "confirmed", confirmations, amountMicro };
}

export interface CryptoInput {
  contractId?: string;
  blockchain: "ethereum" | "solana";
  txHash: string;
  walletAddress: string;
  amountUsd?: number;
}

export interface CryptoResult {
  transaction: RawTransaction;
  created: boolean;
  confirmations: number;
  requiredConfirmations: number;
  failureReason: string | null;
}

export async function payWithCrypto(env: Env, userId: string, input: CryptoInput): Promise<CryptoResult> {
  if (input.blockchain !== "ethereum")
    throw new ApiError("unsupported_blockchain", `${input.blockchain} payments are not supported yet; send USDC on ethereum`);
  if (!TX_HASH.test(input.txHash)) throw invalid("tx_hash", "must be 0x followed by 64 hex digits");
  if (!ADDRESS.test(input.walletAddress)) throw invalid("wallet_address", "must be 0x followed by 40 hex digits");
  let expectedMicro: number | undefined;
  if (input.amountUsd !== undefined) {
    const micro = Math.round(input.amountUsd * 1e6);
    if (Math.abs(micro - input.amountUsd * 1e6) > 1e-3)
      throw invalid("amount_usd", "must have at most 6 decimal places (USDC's precision)");
    expectedMicro = micro;
  }
  const cfg = chainConfig(env);
  if (input.contractId) await ownContractForPayment(env, userId, input.contractId);
  const txHash = input.txHash.toLowerCase();
  const wallet = input.walletAddress.toLowerCase();
  await assertVerifiedWallet(env, userId, "ethereum", wallet);

  const id = crypto.randomUUID();
  const claim = () =>
    claimEthereumTransaction(env.DB, {
      id,
      userId,
      contractId: input.contractId ?? null,
      amountMicro: expectedMicro ?? 0,
      txHash,
      wallet,
      now: Date.now(),
    });
  const current = async () => (await ethereumTransaction(env.DB, txHash))!;
  await claim();
  let t = await current();
  if (t.user_id !== userId) {
    if (t.status === "completed") throw new ApiError("conflict", "this transaction hash was already credited to another account");
    // The proven sender wins over an earlier, unproven claim of the same hash.
    const [receipt, head] = await Promise.all([
      rpc<Receipt | null>(cfg, "eth_getTransactionReceipt", [txHash]),
      rpc<string>(cfg, "eth_blockNumber", []),
    ]);
    const mine = judgeReceipt(cfg, receipt, BigInt(head), wallet);
    if (!receipt || (mine.state === "failed" && /wallet_address/.test(mine.reason))) {
      throw new ApiError("conflict", "this transaction hash was already submitted by another account");
    }
    await dropUncompletedTransaction(env.DB, t.id);
    await claim();
    t = await current();
    if (t.user_id !== userId) throw new ApiError("conflict", "this transaction hash was already submitted by another account");
  }
  const created = t.id === id;
  if (t.status !== "pending") {
    return { transaction: t, created, confirmations: 0, requiredConfirmations: cfg.minConfirmations, failureReason: t.failure_reason };
  }

  const [receipt, head] = await Promise.all([
    rpc<Receipt | null>(cfg, "eth_getTransactionReceipt", [txHash]),
    rpc<string>(cfg, "eth_blockNumber", []),
  ]);
  // The wallet and the declared amount (kept in amount_micro until the chain shows the real one)
  // are those of the first submission: a retry cannot change them.
  const verdict = judgeReceipt(cfg, receipt, BigInt(head), t.wallet_address ?? wallet, t.amount_micro > 0 ? t.amount_micro : undefined);
  if (verdict.state === "failed" && /wallet_address/.test(verdict.reason)) {
    // Not sent from the caller's wallet: release the claim, so the real sender can still make it.
    await dropPendingTransaction(env.DB, t.id);
    throw new ApiError("forbidden", "this transaction's USDC transfer was not sent from your verified wallet_address");
  }
  if (verdict.state === "failed") {
    await failChainTransactionIfPending(env.DB, t.id, verdict.reason, verdict.amountMicro);
    t = await loadTransaction(env, t.id);
    return {
      transaction: t,
      created,
      confirmations: verdict.confirmations,
      requiredConfirmations: cfg.minConfirmations,
      failureReason: t.failure_reason,
    };
  }
  if (verdict.state === "pending") {
    await noteChainProgressIfPending(env.DB, t.id, verdict.amountMicro, verdict.reason);
    t = await loadTransaction(env, t.id);
    return {
      transaction: t,
      created,
      confirmations: verdict.confirmations,
      requiredConfirmations: cfg.minConfirmations,
      failureReason: null,
    };
  }
  t = await completeTransaction(env, t, verdict.amountMicro, `topup:eth:${txHash}`);
  if (t.contract_id) await collectOutstanding(env, t.contract_id);
  return {
    transaction: t,
    created,
    confirmations: verdict.confirmations,
    requiredConfirmations: cfg.minConfirmations,
    failureReason: null,
  };
}
