import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../lib/auth";
import { errors, jsonBody, jsonContent, security } from "../lib/openapi";
import { WindowQuery } from "../analytics/window";
import { ADDRESS, SIGNATURE } from "./wallets";

const tags = ["Payments"];
const auth = [...security.bearer];

export const TransactionSchema = z
  .object({
    id: z.uuid(),
    contract_id: z.uuid().nullable(),
    amount_usd: z.number().openapi({ description: "What was (or is being) paid, in USD with up to 6 decimals" }),
    payment_method: z.enum(["stripe", "crypto"]),
    status: z.enum(["pending", "completed", "failed", "refunded"]),
    stripe_payment_id: z.string().nullable().openapi({ description: "The Stripe PaymentIntent id (pi_…)" }),
    blockchain: z.string().nullable(),
    tx_hash: z.string().nullable().openapi({ description: "Lower-case 0x-prefixed transaction hash" }),
    wallet_address: z.string().nullable(),
    created_at: z.string(),
    settled_at: z.string().nullable().openapi({ description: "When the balance was credited" }),
  })
  .openapi("Transaction");

const IdempotencyHeader = z.object({
  "idempotency-key": z
    .string()
    .min(1)
    .max(200)
    .optional()
    .openapi({
      param: { name: "idempotency-key", in: "header" },
      description:
        "Makes a retried request return the same transaction and charge once. Without it, the key is a SHA-256 of the caller and the body: the same body twice is the same payment (send distinct keys to pay the same amount again with a reusable payment method).",
    }),
});

export const CreatePaymentBody = z
  .object({
    contract_id: z
      .uuid()
      .optional()
      .openapi({ description: "One of the caller's contracts. Without amount_usd: pay that contract's outstanding cost." }),
    amount_usd: z
      .number()
      .gt(0)
      .max(999_999.99)
      .optional()
      .openapi({ description: "Whole cents, at least 0.50 (Stripe's minimum)", example: 25 }),
    payment_method: z.literal("stripe"),
    stripe_token: z
      .string()
      .min(1)
      .max(255)
      .openapi({ description: "A Stripe PaymentMethod id (pm_…) or a card token (tok_…)", example: "pm_card_visa" }),
  })
  .openapi("CreatePayment");

export const createPayment = createRoute({
  method: "post",
  path: "/api/payments/create",
  tags,
  security: auth,
  middleware: [requireAuth()] as const,
  summary: "Top up the balance by card (a Stripe PaymentIntent, created and confirmed at once)",
  description: [
    "Creates and confirms a PaymentIntent with the given payment method; when it succeeds the balance is credited and a `topup` ledger entry written, once (the request, a retry and the `payment_intent.succeeded` webhook all converge on the same ledger key).",
    "A PaymentIntent that needs more time (`processing`) leaves the transaction `pending`; the webhook completes it.",
    "With `contract_id` and no `amount_usd`, the amount is that contract's outstanding cost (`outstanding_usd` on the contract: its final cost beyond what the balance covered at settlement), rounded up to the cent and at least $0.50. After the credit, whatever the contract still owes is charged from the free balance with its own idempotent ledger entries (`charge`, plus the provider's earning and the platform fee on the collected money); `collected_usd` says how much. Anything paid beyond the debt stays on the balance.",
    "A declined card is 402 `payment_failed` (the transaction is recorded `failed`); Stripe unreachable or unconfigured is 503 `payments_unavailable` (retry with the same request: it never charges twice).",
  ].join("\n\n"),
  request: { headers: IdempotencyHeader, body: jsonBody(CreatePaymentBody) },
  responses: {
    201: jsonContent(
      z.object({
        transaction: TransactionSchema,
        collected_usd: z.number().openapi({ description: "Outstanding contract cost charged from the balance after this payment" }),
      }),
      "The transaction (the same one for a retried request)",
    ),
    ...errors(401, 402, 404, 409, 503),
  },
});

export const CryptoBody = z
  .object({
    contract_id: z
      .uuid()
      .optional()
      .openapi({ description: "After the credit, that contract's outstanding cost is charged from the balance" }),
    blockchain: z
      .enum(["ethereum", "solana"])
      .openapi({ description: "Only ethereum is supported now; solana answers 400 unsupported_blockchain" }),
    tx_hash: z.string().min(1).max(200).openapi({ example: "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060" }),
    wallet_address: z
      .string()
      .min(1)
      .max(200)
      .openapi({ description: "The sending wallet; must be the Transfer's `from`", example: "0x8ba1f109551bd432803012645ac136ddd64dba72" }),
    amount_usd: z
      .number()
      .gt(0)
      .optional()
      .openapi({ description: "Optional: the amount sent; when given, the on-chain amount must equal it exactly or the payment fails" }),
  })
  .openapi("CryptoPayment");

const CryptoResult = z.object({
  transaction: TransactionSchema,
  confirmations: z.number().int().openapi({ description: "Blocks on top of (and including) the transaction's block, at the last check" }),
  required_confirmations: z.number().int(),
  failure_reason: z.string().nullable(),
});

export const cryptoPayment = createRoute({
  method: "post",
  path: "/api/payments/crypto",
  tags,
  security: auth,
  middleware: [requireAuth()] as const,
  summary: "Credit a USDC payment on Ethereum, verified on chain",
  description: [
    "Reads the receipt through the configured Ethereum JSON-RPC node. The payment is credited when the receipt's status is 0x1, it holds a USDC `Transfer(address,address,uint256)` log from `wallet_address` to the platform address, and it has at least `ETH_MIN_CONFIRMATIONS` confirmations (head − receipt block + 1). USDC has 6 decimals, so the amount is credited to the micro-dollar, exactly.",
    "Wallet proof first: `wallet_address` must be a wallet the caller verified (`POST /api/payments/wallets`, then `POST /api/payments/wallets/{id}/verify` with its EIP-191 `personal_sign` of the challenge); otherwise 403 `forbidden` and nothing is recorded. A transaction whose transfer came from another sender is 403 too, and the claim is released, so a public hash cannot be squatted.",
    "Not mined or not confirmed yet: `pending` — POST the same `tx_hash` again to re-check (it is credited once). Reverted, no transfer to the platform, a zero amount or an amount other than the declared `amount_usd`: `failed` (final), with `failure_reason`.",
    "Each `tx_hash` counts once. The same account submitting it again gets the same transaction back (200, re-checked while pending). Another account gets 409 `conflict`, except the proven sender: when the receipt shows the transfer came from the caller's verified wallet, an earlier unproven claim by someone else (made before the transaction was mined) is dropped and the caller's claim stands. A credited payment never moves.",
  ].join("\n\n"),
  request: { body: jsonBody(CryptoBody) },
  responses: {
    201: jsonContent(CryptoResult, "A newly submitted transaction"),
    200: jsonContent(CryptoResult, "A transaction this account already submitted, re-checked if it was pending"),
    ...errors(401, 403, 404, 409, 503),
  },
});

export const invoice = createRoute({
  method: "get",
  path: "/api/payments/invoice/{client_id}",
  tags,
  security: auth,
  middleware: [requireAuth()] as const,
  summary: "A renter's invoice for a period: one line per contract, with totals (JSON, or printable HTML)",
  description:
    "Lines: each contract whose billing ended in [from, to) (running contracts appear on the invoice of the period they end in; cancelled ones cost nothing and are omitted), with billed seconds, compute and egress, total, charged and outstanding. Default period: the current UTC month to now. `format=html` answers a printable, self-contained HTML page of the same invoice. Only the client's own user or an admin may see it; for anyone else the client does not exist (404).",
  request: {
    params: z.object({
      client_id: z
        .uuid()
        .openapi({ param: { name: "client_id", in: "path" }, description: "The renter profile id (`client.id` of /api/auth/me)" }),
    }),
    query: WindowQuery.extend({
      format: z.enum(["json", "html"]).default("json").openapi({ description: "json (default) or html (printable)" }),
    }),
  },
  responses: {
    200: {
      description: "The invoice",
      content: {
        "application/json": {
          schema: z.object({
            invoice: z.record(z.string(), z.unknown()).openapi({
              description:
                "number, client_id, bill_to, currency, period {from, to}, issued_at, lines[], totals {contracts, gb_seconds, compute_usd, egress_usd, total_usd, charged_usd, outstanding_usd, payments_usd, payments_count}",
            }),
          }),
        },
        "text/html": { schema: z.string().openapi({ description: "Printable invoice (format=html)" }) },
      },
    },
    ...errors(401, 404),
  },
});

export const webhook = createRoute({
  method: "post",
  path: "/api/payments/webhook",
  tags,
  summary: "Stripe webhook endpoint",
  description: [
    "The raw body is verified against the `Stripe-Signature` header (HMAC-SHA256 with STRIPE_WEBHOOK_SECRET; at most 300 s old); a missing, wrong or stale signature is 400 `validation_failed`.",
    "Handled: `payment_intent.succeeded` (credits the transaction's amount once), `payment_intent.payment_failed` (marks a pending transaction failed), `charge.refunded` (takes the newly refunded amount back from the balance; the balance never goes below zero and money held by running contracts stays held, so what cannot be taken is recorded as unrecovered in the refund entry's memo). Other types are acknowledged with 200 and ignored.",
    "Replays are harmless: events are remembered by id, and every effect has its own ledger idempotency key.",
  ].join("\n\n"),
  request: {
    headers: z.object({
      "stripe-signature": z
        .string()
        .optional()
        .openapi({ param: { name: "stripe-signature", in: "header" } }),
    }),
  },
  responses: {
    200: jsonContent(
      z.object({ received: z.literal(true), duplicate: z.boolean(), handled: z.boolean(), type: z.string() }),
      "Acknowledged",
    ),
    ...errors(503),
  },
});

export const WalletSchema = z
  .object({
    id: z.uuid(),
    blockchain: z.literal("ethereum"),
    address: z.string().openapi({ description: "Lower-case 0x-prefixed address", example: "0x8ba1f109551bd432803012645ac136ddd64dba72" }),
    verified: z.boolean(),
    verified_at: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi("Wallet");

export const createWallet = createRoute({
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
          blockchain: z
            .enum(["ethereum", "solana"])
            .openapi({ description: "Only ethereum is supported now; solana answers 400 unsupported_blockchain" }),
          address: z
            .string()
            .regex(ADDRESS, "must be 0x followed by 40 hex digits")
            .openapi({ example: "0x8ba1f109551bd432803012645ac136ddd64dba72" }),
        })
        .openapi("WalletClaim"),
    ),
  },
  responses: {
    201: jsonContent(
      z.object({ wallet: WalletSchema, challenge: z.string().openapi({ description: "The exact text to sign with personal_sign" }) }),
      "The wallet and its challenge",
    ),
    ...errors(401, 409),
  },
});

export const verifyWallet = createRoute({
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
    body: jsonBody(
      z.object({ signature: z.string().regex(SIGNATURE, "must be 0x followed by 130 hex digits (65 bytes)") }).openapi("WalletProof"),
    ),
  },
  responses: { 200: jsonContent(z.object({ wallet: WalletSchema }), "The verified wallet"), ...errors(401, 404, 409) },
});

export const listWallets = createRoute({
  method: "get",
  path: "/api/payments/wallets",
  tags,
  security: auth,
  middleware: [requireAuth()] as const,
  summary: "The caller's wallets, verified or not",
  responses: { 200: jsonContent(z.object({ wallets: z.array(WalletSchema) }), "Wallets"), ...errors(401) },
});
