/**
 * Node-side fakes the worker tests talk to over loopback:
 * - a Stripe-compatible HTTP API (the calls the worker makes: PaymentIntents create/confirm/retrieve,
 *   Connect transfers create/list), form-encoded like Stripe's v1 API, with Stripe's idempotency
 *   semantics (same key + same parameters → the same response, replayed; same key + other
 *   parameters → 400 idempotency_error);
 * - an Ethereum JSON-RPC node (eth_blockNumber, eth_getTransactionReceipt) whose receipts carry
 *   real ABI-encoded ERC-20 Transfer logs.
 * Both record what they received, so tests can assert on the requests the worker really sent.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createHash } from "node:crypto";

export const TEST_STRIPE_KEY = "sk_test_mnemo_fake_0123456789";

/** keccak256("Transfer(address,address,uint256)"): the ERC-20 Transfer event topic. */
export const TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";

interface Recorded {
  method: string;
  path: string;
  idempotencyKey: string | null;
  params: Record<string, unknown>;
  status: number;
  at: number;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = "";
    req.setEncoding("utf8");
    req.on("data", (c) => (data += c));
    req.on("end", () => resolve(data));
    req.on("error", reject);
  });
}

/** Stripe's form encoding (`a[b][c]=1`, `list[0]=x`) back into nested objects. */
export function parseStripeForm(body: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [rawKey, value] of new URLSearchParams(body)) {
    const parts = rawKey.split(/\[|\]\[|\]/).filter((p) => p !== "");
    let node: Record<string, unknown> = out;
    parts.forEach((p, i) => {
      if (i === parts.length - 1) node[p] = value;
      else node = (node[p] ??= {}) as Record<string, unknown>;
    });
  }
  return out;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { "content-type": "application/json", "request-id": `req_${Math.random().toString(36).slice(2)}`, ...headers });
  res.end(JSON.stringify(body));
}

const stripeError = (type: string, message: string, extra: Record<string, unknown> = {}) => ({ error: { type, message, ...extra } });

const id = (prefix: string) =>
  `${prefix}_${createHash("sha256")
    .update(String(Math.random()) + Date.now())
    .digest("hex")
    .slice(0, 24)}`;

// ---- Stripe ------------------------------------------------------------------------------------

export function startStripeServer(port: number): Promise<Server> {
  const requests: Recorded[] = [];
  const idempotent = new Map<string, { fingerprint: string; status: number; body: unknown }>();
  const intents = new Map<string, Record<string, any>>();
  const transfers = new Map<string, Record<string, any>>();

  /** The outcome a test payment method asks for, like Stripe's test cards. */
  function outcome(pi: Record<string, any>): "succeeded" | "declined" | "processing" {
    const pm = String(pi.payment_method ?? pi.payment_method_data?.card?.token ?? "");
    if (/declin/i.test(pm)) return "declined";
    if (/processing/i.test(pm)) return "processing";
    return "succeeded";
  }

  function confirm(pi: Record<string, any>): { status: number; body: unknown } {
    if (!pi.payment_method && !pi.payment_method_data) {
      return {
        status: 400,
        body: stripeError("invalid_request_error", "You cannot confirm this PaymentIntent because it's missing a payment method.", {
          code: "payment_intent_unexpected_state",
        }),
      };
    }
    if (!pi.payment_method && pi.payment_method_data) pi.payment_method = id("pm");
    const o = outcome(pi);
    if (o === "declined") {
      pi.status = "requires_payment_method";
      pi.last_payment_error = {
        type: "card_error",
        code: "card_declined",
        decline_code: "generic_decline",
        message: "Your card was declined.",
      };
      return {
        status: 402,
        body: stripeError("card_error", "Your card was declined.", {
          code: "card_declined",
          decline_code: "generic_decline",
          payment_intent: pi,
        }),
      };
    }
    pi.status = o;
    if (o === "succeeded") {
      pi.amount_received = pi.amount;
      pi.latest_charge = id("ch");
    }
    return { status: 200, body: pi };
  }

  function createIntent(params: Record<string, any>): { status: number; body: unknown } {
    const amount = Number(params.amount);
    if (!Number.isInteger(amount) || amount < 50)
      return {
        status: 400,
        body: stripeError("invalid_request_error", "Amount must be at least $0.50 usd", { code: "amount_too_small", param: "amount" }),
      };
    if (params.currency !== "usd")
      return { status: 400, body: stripeError("invalid_request_error", "Invalid currency", { param: "currency" }) };
    const pi: Record<string, any> = {
      id: id("pi"),
      object: "payment_intent",
      amount,
      amount_received: 0,
      currency: "usd",
      status: "requires_confirmation",
      metadata: params.metadata ?? {},
      payment_method: params.payment_method ?? null,
      payment_method_data: params.payment_method_data,
      created: Math.floor(Date.now() / 1000),
      livemode: false,
    };
    intents.set(pi.id, pi);
    if (params.confirm === "true") return confirm(pi);
    return { status: 200, body: pi };
  }

  function route(method: string, path: string, params: Record<string, any>, query: URLSearchParams): { status: number; body: unknown } {
    if (method === "POST" && path === "/v1/payment_intents") return createIntent(params);
    let m = /^\/v1\/payment_intents\/([^/]+)(\/confirm)?$/.exec(path);
    if (m) {
      const pi = intents.get(m[1]);
      if (!pi)
        return {
          status: 404,
          body: stripeError("invalid_request_error", `No such payment_intent: '${m[1]}'`, { code: "resource_missing" }),
        };
      if (method === "GET" && !m[2]) return { status: 200, body: pi };
      if (method === "POST" && m[2]) {
        if (pi.status === "succeeded")
          return {
            status: 400,
            body: stripeError("invalid_request_error", "This PaymentIntent has already succeeded.", {
              code: "payment_intent_unexpected_state",
            }),
          };
        if (params.payment_method) pi.payment_method = params.payment_method;
        return confirm(pi);
      }
    }
    if (method === "POST" && path === "/v1/transfers") {
      const amount = Number(params.amount);
      if (!Number.isInteger(amount) || amount < 1)
        return { status: 400, body: stripeError("invalid_request_error", "Invalid amount", { param: "amount" }) };
      if (!/^acct_/.test(String(params.destination)) || /invalid/.test(String(params.destination))) {
        return {
          status: 400,
          body: stripeError("invalid_request_error", `No such destination: '${params.destination}'`, {
            code: "account_invalid",
            param: "destination",
          }),
        };
      }
      const t = {
        id: id("tr"),
        object: "transfer",
        amount,
        currency: params.currency,
        destination: params.destination,
        transfer_group: params.transfer_group ?? null,
        metadata: params.metadata ?? {},
        created: Math.floor(Date.now() / 1000),
        reversed: false,
        livemode: false,
      };
      transfers.set(t.id, t);
      return { status: 200, body: t };
    }
    if (method === "GET" && path === "/v1/transfers") {
      const group = query.get("transfer_group");
      const data = [...transfers.values()].filter((t) => !group || t.transfer_group === group).reverse();
      return { status: 200, body: { object: "list", url: "/v1/transfers", has_more: false, data } };
    }
    return { status: 404, body: stripeError("invalid_request_error", `Unrecognized request URL (${method}: ${path}).`) };
  }

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const raw = await readBody(req);
    if (url.pathname === "/__requests") {
      if (req.method === "DELETE") requests.length = 0;
      return send(res, 200, { requests });
    }
    if (url.pathname === "/__intents") return send(res, 200, { intents: [...intents.values()] });
    if (req.headers.authorization !== `Bearer ${TEST_STRIPE_KEY}`) {
      return send(res, 401, stripeError("invalid_request_error", "Invalid API Key provided"));
    }
    const params = parseStripeForm(raw);
    const key = (req.headers["idempotency-key"] as string | undefined) ?? null;
    let result: { status: number; body: unknown };
    let replayed = false;
    if (key && req.method === "POST") {
      const fingerprint = `${req.method} ${url.pathname} ${raw}`;
      const prior = idempotent.get(key);
      if (prior && prior.fingerprint !== fingerprint) {
        result = {
          status: 400,
          body: stripeError(
            "idempotency_error",
            `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
          ),
        };
      } else if (prior) {
        result = { status: prior.status, body: prior.body };
        replayed = true;
      } else {
        result = route(req.method ?? "GET", url.pathname, params, url.searchParams);
        // Stripe stores the result of every request that reached execution, errors included.
        idempotent.set(key, { fingerprint, status: result.status, body: JSON.parse(JSON.stringify(result.body)) });
      }
    } else {
      result = route(req.method ?? "GET", url.pathname, params, url.searchParams);
    }
    requests.push({ method: req.method ?? "GET", path: url.pathname, idempotencyKey: key, params, status: result.status, at: Date.now() });
    send(res, result.status, result.body, replayed ? { "idempotent-replayed": "true" } : {});
  });
  return listen(server, port);
}

// ---- Ethereum JSON-RPC -------------------------------------------------------------------------

interface FakeTransfer {
  hash: string;
  token: string;
  from: string;
  to: string;
  /** Raw token units (USDC: 6 decimals), as a decimal string. */
  amount: string;
  blockNumber: number;
  status?: 0 | 1;
}

const hex = (n: number | bigint) => "0x" + BigInt(n).toString(16);
const pad32 = (h: string) => "0x" + h.replace(/^0x/, "").toLowerCase().padStart(64, "0");

/** A transaction receipt as a node returns it, with the ERC-20 Transfer log ABI-encoded. */
export function receiptOf(t: FakeTransfer) {
  const blockHash = pad32(createHash("sha256").update(`block${t.blockNumber}`).digest("hex"));
  return {
    transactionHash: t.hash,
    transactionIndex: "0x0",
    blockHash,
    blockNumber: hex(t.blockNumber),
    from: t.from,
    to: t.token,
    cumulativeGasUsed: "0xfde8",
    gasUsed: "0xfde8",
    effectiveGasPrice: "0x3b9aca00",
    contractAddress: null,
    type: "0x2",
    status: hex(t.status ?? 1),
    logsBloom: "0x" + "0".repeat(512),
    logs: [
      {
        address: t.token,
        // indexed from and to are left-padded 32-byte words; the amount is the uint256 data word.
        topics: [TRANSFER_TOPIC, pad32(t.from), pad32(t.to)],
        data: pad32(BigInt(t.amount).toString(16)),
        blockNumber: hex(t.blockNumber),
        blockHash,
        transactionHash: t.hash,
        transactionIndex: "0x0",
        logIndex: "0x0",
        removed: false,
      },
    ],
  };
}

export function startEthServer(port: number, startBlock = 19_000_000): Promise<Server> {
  let head = startBlock;
  const txs = new Map<string, FakeTransfer>();
  const calls: { method: string; params: unknown[] }[] = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const raw = await readBody(req);
    // Test control: add transfers, move the chain head, read what was asked.
    if (url.pathname === "/__control/transfer") {
      const t = JSON.parse(raw) as FakeTransfer;
      txs.set(t.hash.toLowerCase(), t);
      return send(res, 200, { ok: true, head });
    }
    if (url.pathname === "/__control/head") {
      if (req.method === "POST") head = Number(JSON.parse(raw).head);
      return send(res, 200, { head });
    }
    if (url.pathname === "/__control/calls") return send(res, 200, { calls });
    let body: { id?: unknown; method?: string; params?: unknown[] };
    try {
      body = JSON.parse(raw);
    } catch {
      return send(res, 200, { jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } });
    }
    calls.push({ method: String(body.method), params: body.params ?? [] });
    const reply = (result: unknown) => send(res, 200, { jsonrpc: "2.0", id: body.id ?? null, result });
    switch (body.method) {
      case "eth_blockNumber":
        return reply(hex(head));
      case "eth_chainId":
        return reply("0x1");
      case "eth_getTransactionReceipt": {
        const t = txs.get(String(body.params?.[0] ?? "").toLowerCase());
        // A transaction not yet mined (or unknown) has no receipt: null, as a real node answers.
        return reply(t && t.blockNumber <= head ? receiptOf(t) : null);
      }
      default:
        return send(res, 200, { jsonrpc: "2.0", id: body.id ?? null, error: { code: -32601, message: "Method not found" } });
    }
  });
  return listen(server, port);
}

function listen(server: Server, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}
