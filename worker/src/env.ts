import type { RegionCluster } from "./region-cluster";

/** The worker's bindings, vars and secrets (see the configuration table in README.md). */
export interface Env {
  DB: D1Database;
  REGION_CLUSTER: DurableObjectNamespace<RegionCluster>;
  SETTLEMENT_QUEUE: Queue<SettlementMessage>;
  SETTLEMENT_DLQ?: Queue<unknown>;
  ASSETS?: Fetcher;

  JWT_SECRET?: string;
  ADMIN_EMAILS?: string;
  PLATFORM_FEE_PERCENT?: string;
  HEARTBEAT_MIN_INTERVAL_SEC?: string;
  NODE_OFFLINE_AFTER_SEC?: string;
  BALANCE_GRACE_SEC?: string;
  STRIPE_SECRET_KEY?: string;
  STRIPE_WEBHOOK_SECRET?: string;
  STRIPE_API_BASE?: string;
  ETH_RPC_URL?: string;
  PLATFORM_ETH_ADDRESS?: string;
  USDC_CONTRACT_ADDRESS?: string;
  ETH_MIN_CONFIRMATIONS?: string;
  MIN_PAYOUT_USD?: string;
  CORS_ORIGINS?: string;
  LEASE_READY_TIMEOUT_SEC?: string;
  LEASE_REPORT_WAIT_SEC?: string;
}

/** A contract that has ended and waits to be charged. Keyed by contract id: redelivery is harmless. */
export interface SettlementMessage {
  contract_id: string;
}

/** Typed, defaulted configuration read from the environment. Bad values fall back to defaults. */
export interface Config {
  platformFeePercent: string;
  heartbeatMinIntervalSec: number;
  nodeOfflineAfterSec: number;
  balanceGraceSec: number;
  minPayoutUsd: string;
  ethMinConfirmations: number;
  adminEmails: Set<string>;
  corsOrigins: string[];
  /** A pending contract its node has not made ready by then is failed over, never charged. */
  leaseReadyTimeoutSec: number;
  /** How long settlement waits after a contract's end for the node's final lease receipt. */
  leaseReportWaitSec: number;
}

function int(value: string | undefined, fallback: number, min = 0): number {
  if (value === undefined || value.trim() === "") return fallback;
  const n = Number(value);
  return Number.isInteger(n) && n >= min ? n : fallback;
}

function decimal(value: string | undefined, fallback: string): string {
  return value !== undefined && /^\d+(\.\d+)?$/.test(value.trim()) ? value.trim() : fallback;
}

export function config(env: Env): Config {
  return {
    platformFeePercent: decimal(env.PLATFORM_FEE_PERCENT, "5.0"),
    heartbeatMinIntervalSec: int(env.HEARTBEAT_MIN_INTERVAL_SEC, 30),
    nodeOfflineAfterSec: int(env.NODE_OFFLINE_AFTER_SEC, 180, 1),
    balanceGraceSec: int(env.BALANCE_GRACE_SEC, 300),
    minPayoutUsd: decimal(env.MIN_PAYOUT_USD, "10"),
    ethMinConfirmations: int(env.ETH_MIN_CONFIRMATIONS, 12),
    adminEmails: new Set(
      (env.ADMIN_EMAILS ?? "")
        .split(",")
        .map((e) => e.trim().toLowerCase())
        .filter(Boolean),
    ),
    corsOrigins: (env.CORS_ORIGINS ?? "")
      .split(",")
      .map((o) => o.trim())
      .filter(Boolean),
    leaseReadyTimeoutSec: int(env.LEASE_READY_TIMEOUT_SEC, 60, 1),
    leaseReportWaitSec: int(env.LEASE_REPORT_WAIT_SEC, 120),
  };
}
