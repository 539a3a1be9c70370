/**
 * The system of record (D1). Conventions:
 * - ids are UUID strings; times are integer epoch milliseconds (ISO strings only at the API edge);
 * - money is integers: amounts in micro-USD (`*_micro`), prices in nano-USD per GB-second (`*_nano`);
 * - booleans are 0/1 integers.
 */
import { sql } from "drizzle-orm";
import { check, index, integer, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    email: text("email").notNull(),
    passwordHash: text("password_hash").notNull(),
    role: text("role", { enum: ["user", "provider", "admin"] }).notNull(),
    fullName: text("full_name"),
    organization: text("organization"),
    stripeAccountId: text("stripe_account_id"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [uniqueIndex("users_email_unique").on(t.email)],
);

export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    name: text("name"),
    prefix: text("prefix").notNull(),
    keyHash: text("key_hash").notNull(),
    createdAt: integer("created_at").notNull(),
    lastUsedAt: integer("last_used_at"),
    revokedAt: integer("revoked_at"),
  },
  (t) => [uniqueIndex("api_keys_hash_unique").on(t.keyHash), index("api_keys_user_idx").on(t.userId)],
);

/**
 * The renter profile, created with every user. Also the renter's prepaid account:
 * `balance_micro` is money held by the platform for the renter, `held_micro` the part reserved by
 * running contracts. SQLite enforces 0 <= held <= balance, so no code path can overspend.
 */
export const clients = sqliteTable(
  "clients",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    orgName: text("org_name"),
    defaultRegion: text("default_region"),
    latitude: real("latitude"),
    longitude: real("longitude"),
    budgetMonthlyMicro: integer("budget_monthly_micro"),
    preferLocal: integer("prefer_local").notNull().default(1),
    maxLatencyMs: integer("max_latency_ms"),
    minReliability: real("min_reliability"),
    balanceMicro: integer("balance_micro").notNull().default(0),
    heldMicro: integer("held_micro").notNull().default(0),
    /** Spend committed this calendar month (charges + open holds), for the budget cap. */
    spendMonth: text("spend_month"),
    spendMonthMicro: integer("spend_month_micro").notNull().default(0),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("clients_user_unique").on(t.userId),
    check("clients_balance_nonnegative", sql`${t.balanceMicro} >= 0`),
    check("clients_held_nonnegative", sql`${t.heldMicro} >= 0`),
    check("clients_held_within_balance", sql`${t.heldMicro} <= ${t.balanceMicro}`),
  ],
);

export const nodes = sqliteTable(
  "nodes",
  {
    id: text("id").primaryKey(),
    providerId: text("provider_id")
      .notNull()
      .references(() => users.id),
    name: text("name").notNull(),
    nodeType: text("node_type", { enum: ["datacenter", "edge_cluster", "mist_node"] }).notNull(),
    region: text("region").notNull(),
    latitude: real("latitude"),
    longitude: real("longitude"),
    totalRamGb: integer("total_ram_gb").notNull(),
    totalVramGb: integer("total_vram_gb").notNull(),
    /** Free memory as last reported by the node's heartbeat (never includes what contracts hold). */
    reportedRamGb: integer("reported_ram_gb").notNull(),
    reportedVramGb: integer("reported_vram_gb").notNull(),
    bandwidthMbps: integer("bandwidth_mbps").notNull(),
    /** ms, up to 3 decimals (0.8); stored REAL inside the INTEGER-declared column (migration 0005). */
    baseLatencyMs: real("base_latency_ms").notNull(),
    priceNano: integer("price_nano").notNull(),
    status: text("status", { enum: ["active", "maintenance", "offline"] }).notNull(),
    /** 0..100; see domain/reliability.ts for the formula. */
    uptimeScore: real("uptime_score").notNull().default(99),
    heartbeatsReceived: integer("heartbeats_received").notNull().default(0),
    failedContracts: integer("failed_contracts").notNull().default(0),
    metadata: text("metadata"),
    /** `host:port` of the node's lease server; owner and admins only (migration 0003). */
    endpoint: text("endpoint"),
    lastHeartbeatAt: integer("last_heartbeat_at"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    /** Set by DELETE: the node is `offline` for good and its heartbeats answer 410 `gone`. */
    retiredAt: integer("retired_at"),
  },
  (t) => [
    index("nodes_provider_idx").on(t.providerId),
    index("nodes_region_status_idx").on(t.region, t.status),
    index("nodes_status_idx").on(t.status),
  ],
);

/** A node's offer terms (one current offer per node). */
export const offers = sqliteTable(
  "offers",
  {
    id: text("id").primaryKey(),
    nodeId: text("node_id")
      .notNull()
      .references(() => nodes.id),
    minDurationSec: integer("min_duration_sec").notNull().default(60),
    maxDurationSec: integer("max_duration_sec").notNull().default(86400),
    /** micro-USD per GB of egress. */
    egressPriceMicro: integer("egress_price_micro").notNull().default(0),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("offers_node_unique").on(t.nodeId)],
);

export const contracts = sqliteTable(
  "contracts",
  {
    id: text("id").primaryKey(),
    clientId: text("client_id")
      .notNull()
      .references(() => clients.id),
    clientUserId: text("client_user_id")
      .notNull()
      .references(() => users.id),
    nodeId: text("node_id")
      .notNull()
      .references(() => nodes.id),
    providerId: text("provider_id")
      .notNull()
      .references(() => users.id),
    region: text("region").notNull(),
    ramGb: integer("ram_gb").notNull(),
    vramGb: integer("vram_gb").notNull(),
    durationSec: integer("duration_sec").notNull(),
    /** The current term's length; grows with extensions, resets to duration_sec on renewal. */
    termSec: integer("term_sec").notNull(),
    startTime: integer("start_time"),
    endTime: integer("end_time"),
    priceNano: integer("price_nano").notNull(),
    egressPriceMicro: integer("egress_price_micro").notNull().default(0),
    minDurationSec: integer("min_duration_sec").notNull().default(60),
    maxDurationSec: integer("max_duration_sec").notNull().default(86400),
    /** The estimate until settled, then the final cost. */
    totalCostMicro: integer("total_cost_micro").notNull(),
    accruedCostMicro: integer("accrued_cost_micro").notNull().default(0),
    /** What is currently held from the renter's balance for this contract. */
    heldMicro: integer("held_micro").notNull().default(0),
    /** What settlement took from the balance; below total_cost_micro only when the balance ran dry. */
    chargedMicro: integer("charged_micro"),
    autoRenew: integer("auto_renew").notNull().default(0),
    status: text("status", { enum: ["pending", "active", "completed", "failed", "cancelled"] }).notNull(),
    /** When billing stopped (settle, expiry, failure); settlement is queued from then on. */
    endedAt: integer("ended_at"),
    endReason: text("end_reason"),
    actualEgressGb: real("actual_egress_gb"),
    graceUntil: integer("grace_until"),
    renewals: integer("renewals").notNull().default(0),
    settlementHash: text("settlement_hash"),
    failedOverTo: text("failed_over_to"),
    failedOverFrom: text("failed_over_from"),
    /** A failed contract's failover has its result (a replacement, or none possible); null while the reconciler must retry it. */
    failoverDoneAt: integer("failover_done_at"),
    createdAt: integer("created_at").notNull(),
    completedAt: integer("completed_at"),
  },
  (t) => [
    index("contracts_client_idx").on(t.clientUserId, t.createdAt),
    index("contracts_provider_idx").on(t.providerId, t.createdAt),
    index("contracts_node_status_idx").on(t.nodeId, t.status),
    index("contracts_region_status_end_idx").on(t.region, t.status, t.endTime),
    index("contracts_status_idx").on(t.status),
    index("contracts_status_created_idx").on(t.status, t.createdAt),
    index("contracts_unsettled_idx").on(t.region, t.chargedMicro, t.endedAt),
  ],
);

export const transactions = sqliteTable(
  "transactions",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    contractId: text("contract_id"),
    amountMicro: integer("amount_micro").notNull(),
    paymentMethod: text("payment_method", { enum: ["stripe", "crypto"] }).notNull(),
    status: text("status", { enum: ["pending", "completed", "failed", "refunded"] }).notNull(),
    stripePaymentId: text("stripe_payment_id"),
    blockchain: text("blockchain"),
    txHash: text("tx_hash"),
    walletAddress: text("wallet_address"),
    idempotencyKey: text("idempotency_key"),
    failureReason: text("failure_reason"),
    createdAt: integer("created_at").notNull(),
    settledAt: integer("settled_at"),
  },
  (t) => [
    index("transactions_user_idx").on(t.userId, t.createdAt),
    uniqueIndex("transactions_stripe_unique").on(t.stripePaymentId),
    uniqueIndex("transactions_tx_hash_unique").on(t.blockchain, t.txHash),
    uniqueIndex("transactions_idempotency_unique").on(t.idempotencyKey),
  ],
);

/** Stripe webhook events already handled: a replayed event id changes nothing. */
export const webhookEvents = sqliteTable("webhook_events", {
  id: text("id").primaryKey(),
  type: text("type").notNull(),
  receivedAt: integer("received_at").notNull(),
});

export const nodeMetrics = sqliteTable(
  "node_metrics",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    nodeId: text("node_id")
      .notNull()
      .references(() => nodes.id),
    recordedAt: integer("recorded_at").notNull(),
    availableRamGb: integer("available_ram_gb").notNull(),
    availableVramGb: integer("available_vram_gb").notNull(),
    cpuUsagePct: real("cpu_usage_pct"),
    gpuUsagePct: real("gpu_usage_pct"),
    temperatureC: real("temperature_c"),
    bandwidthMbps: integer("bandwidth_mbps"),
  },
  (t) => [index("node_metrics_node_time_idx").on(t.nodeId, t.recordedAt)],
);

/** Regions known to the market, with the centre drawn on the map. Roll-ups live in the region DO. */
export const clusters = sqliteTable("clusters", {
  region: text("region").primaryKey(),
  name: text("name"),
  centerLat: real("center_lat"),
  centerLng: real("center_lng"),
  createdAt: integer("created_at").notNull(),
});

/**
 * Every balance movement, append-only and hash-chained per account: `hash` = SHA-256(the
 * account's previous hash + canonical entry). `(account, account_seq)` is unique and assigned as
 * the account's head + 1, so two writers racing for the same place in one account collide and one
 * retries (D1 cannot lock); `seq` is only the global insertion order. `idempotency_key` makes each
 * effect (a contract's charge, a webhook's credit) happen once, whatever is redelivered.
 * `chain_version` 1 marks entries written before per-account chains, re-chained once by
 * ledger/rechain.ts.
 */
export const ledgerEntries = sqliteTable(
  "ledger_entries",
  {
    seq: integer("seq").primaryKey(),
    id: text("id").notNull(),
    kind: text("kind", {
      enum: ["topup", "credit", "hold", "release", "charge", "provider_earning", "platform_fee", "payout", "refund"],
    }).notNull(),
    /** The account moved: a renter's or provider's user id; null for the platform's own account. */
    userId: text("user_id"),
    contractId: text("contract_id"),
    transactionId: text("transaction_id"),
    amountMicro: integer("amount_micro").notNull(),
    memo: text("memo"),
    idempotencyKey: text("idempotency_key").notNull(),
    createdAt: integer("created_at").notNull(),
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
    /** A user id (renter or provider) or `platform:<region>` for the platform's fee account. */
    account: text("account"),
    accountSeq: integer("account_seq"),
    chainVersion: integer("chain_version").notNull().default(1),
  },
  (t) => [
    uniqueIndex("ledger_id_unique").on(t.id),
    uniqueIndex("ledger_account_seq_unique").on(t.account, t.accountSeq),
    index("ledger_legacy_idx").on(t.chainVersion, t.seq),
    uniqueIndex("ledger_idempotency_unique").on(t.idempotencyKey),
    index("ledger_user_idx").on(t.userId, t.seq),
    index("ledger_contract_idx").on(t.contractId),
    index("ledger_kind_time_idx").on(t.kind, t.createdAt),
  ],
);

/**
 * The platform's lease-signing keys (ES256). The private JWK is stored encrypted with a key derived
 * from JWT_SECRET (AES-GCM), so a copy of the database alone cannot forge leases.
 */
export const signingKeys = sqliteTable("signing_keys", {
  kid: text("kid").primaryKey(),
  publicJwk: text("public_jwk").notNull(),
  privateJwkSealed: text("private_jwk_sealed").notNull(),
  createdAt: integer("created_at").notNull(),
  retiredAt: integer("retired_at"),
});

/**
 * What a node reports about each lease it serves (migration 0003): the latest counters, replaced by
 * every heartbeat until the end-of-lease receipt (`final` = 1) freezes them. `billedBytesOut` is the
 * egress settlement charged, set once.
 */
export const leaseReports = sqliteTable("lease_reports", {
  contractId: text("contract_id")
    .primaryKey()
    .references(() => contracts.id),
  nodeId: text("node_id")
    .notNull()
    .references(() => nodes.id),
  bytesIn: integer("bytes_in").notNull(),
  bytesOut: integer("bytes_out").notNull(),
  keys: integer("keys").notNull(),
  usedBytes: integer("used_bytes").notNull(),
  final: integer("final").notNull().default(0),
  digest: text("digest"),
  wipedAt: integer("wiped_at"),
  reportedAt: integer("reported_at").notNull(),
  billedBytesOut: integer("billed_bytes_out"),
  billedAt: integer("billed_at"),
});

/** Login and registration throttling (auth/throttle.ts); keys hold hashed emails or client addresses. */
export const authThrottle = sqliteTable("auth_throttle", {
  key: text("key").primaryKey(),
  failures: integer("failures").notNull().default(0),
  windowStart: integer("window_start").notNull(),
  blockedUntil: integer("blocked_until").notNull().default(0),
  updatedAt: integer("updated_at").notNull(),
});

/** Wallets claimed for USDC payments; verified once the owner signed the challenge (EIP-191). */
export const wallets = sqliteTable(
  "wallets",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    blockchain: text("blockchain").notNull(),
    address: text("address").notNull(),
    challenge: text("challenge").notNull(),
    verifiedAt: integer("verified_at"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    index("wallets_user_idx").on(t.userId, t.blockchain, t.address),
    uniqueIndex("wallets_verified_unique").on(t.blockchain, t.address).where(sql`${t.verifiedAt} IS NOT NULL`),
  ],
);

/** Settlement messages that exhausted their retries; the region reconciler retries them. */
export const settlementDeadLetters = sqliteTable(
  "settlement_dead_letters",
  {
    messageId: text("message_id").primaryKey(),
    contractId: text("contract_id"),
    body: text("body").notNull(),
    attempts: integer("attempts").notNull(),
    receivedAt: integer("received_at").notNull(),
    retries: integer("retries").notNull().default(0),
    lastError: text("last_error"),
    resolvedAt: integer("resolved_at"),
  },
  (t) => [index("dead_letters_open_idx").on(t.resolvedAt, t.receivedAt)],
);

export type UserRow = typeof users.$inferSelect;
export type ClientRow = typeof clients.$inferSelect;
export type NodeRow = typeof nodes.$inferSelect;
export type OfferRow = typeof offers.$inferSelect;
export type ContractRow = typeof contracts.$inferSelect;
export type TransactionRow = typeof transactions.$inferSelect;
export type LedgerRow = typeof ledgerEntries.$inferSelect;
export type NodeMetricRow = typeof nodeMetrics.$inferSelect;
export type LeaseReportRow = typeof leaseReports.$inferSelect;
