import { describe, expect, it } from "vitest";
import { createExecutionContext } from "cloudflare:test";
import worker from "../index";
import { api, env, expectError, register } from "../../test/helpers";
import { balanceOf, clientRow, deliverEvent, ledgerOf, stripeRequests } from "../../test/money";
import { sha256Hex } from "../lib/crypto";
import { stripeFor } from "./stripe";

const topup = (token: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  api("POST", "/api/payments/create", { token, headers, body: { payment_method: "stripe", ...body } });

const piEvent = (type: string, pi: Record<string, unknown>, id = `evt_${crypto.randomUUID().replaceAll("-", "")}`) => ({
  id,
  type,
  data: { object: { object: "payment_intent", currency: "usd", ...pi } },
});

describe("POST /api/payments/create (Stripe top-up)", () => {
  it("creates and confirms a PaymentIntent, records the transaction and credits the balance once", async () => {
    const u = await register();
    const r = await topup(u.token, { amount_usd: 25, stripe_token: "pm_card_visa" });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const t = r.body.transaction;
    expect(Object.keys(t).sort()).toEqual([
      "amount_usd",
      "blockchain",
      "contract_id",
      "created_at",
      "id",
      "payment_method",
      "settled_at",
      "status",
      "stripe_payment_id",
      "tx_hash",
      "wallet_address",
    ]);
    expect(t).toMatchObject({
      amount_usd: 25,
      payment_method: "stripe",
      status: "completed",
      contract_id: null,
      blockchain: null,
      tx_hash: null,
    });
    expect(t.stripe_payment_id).toMatch(/^pi_/);
    expect(t.settled_at).not.toBeNull();
    expect(await balanceOf(u)).toMatchObject({ balance_usd: 25, held_usd: 0, available_usd: 25 });

    // What Stripe received: one confirmed PaymentIntent for 2500 cents, with our idempotency key.
    const sent = await stripeRequests((q) => q.params.metadata?.transaction_id === t.id);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ method: "POST", path: "/v1/payment_intents", status: 200 });
    expect(sent[0].params).toMatchObject({
      amount: "2500",
      currency: "usd",
      confirm: "true",
      payment_method: "pm_card_visa",
      metadata: { user_id: u.id },
    });
    expect(sent[0].idempotencyKey).toMatch(/^mnemo-[0-9a-f]{64}$/);

    const entries = await ledgerOf({ transactionId: t.id });
    expect(entries.map((e) => [e.kind, e.amount_micro, e.user_id])).toEqual([["topup", 25_000_000, u.id]]);
    expect(entries[0].idempotency_key).toBe(`topup:stripe:${t.stripe_payment_id}`);
  });

  it("accepts a card token (tok_…) as payment_method_data", async () => {
    const u = await register();
    const r = await topup(u.token, { amount_usd: 0.5, stripe_token: "tok_visa" });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const [sent] = await stripeRequests((q) => q.params.metadata?.transaction_id === r.body.transaction.id);
    expect(sent.params.payment_method_data).toEqual({ type: "card", card: { token: "tok_visa" } });
    expect((await balanceOf(u)).balance_usd).toBe(0.5);
  });

  it("is idempotent: a retried request (same Idempotency-Key, or same body) is the same payment", async () => {
    const u = await register();
    const headers = { "idempotency-key": "order-42" };
    // Three concurrent identical requests: Stripe sees one key, replays its first answer, and the
    // ledger credits once.
    const rs = await Promise.all([0, 1, 2].map(() => topup(u.token, { amount_usd: 10, stripe_token: "pm_card_visa" }, headers)));
    for (const r of rs) expect(r.status, JSON.stringify(r.body)).toBe(201);
    const ids = new Set(rs.map((r) => r.body.transaction.id));
    expect(ids.size).toBe(1);
    const [txId] = [...ids];
    expect(new Set(rs.map((r) => r.body.transaction.stripe_payment_id)).size).toBe(1);
    expect((await balanceOf(u)).balance_usd).toBe(10);
    const sent = await stripeRequests((q) => q.params.metadata?.transaction_id === txId);
    expect(sent.length).toBeGreaterThanOrEqual(1);
    expect(new Set(sent.map((q) => q.idempotencyKey)).size).toBe(1);

    // Later retry: same answer, no new charge.
    const again = await topup(u.token, { amount_usd: 10, stripe_token: "pm_card_visa" }, headers);
    expect(again.body.transaction.id).toBe(txId);
    expect((await balanceOf(u)).balance_usd).toBe(10);
    // The same key for a different payment is a conflict.
    expectError(await topup(u.token, { amount_usd: 11, stripe_token: "pm_card_visa" }, headers), 409, "conflict");
    // A different key is a new payment.
    const other = await topup(u.token, { amount_usd: 10, stripe_token: "pm_card_visa" }, { "idempotency-key": "order-43" });
    expect(other.body.transaction.id).not.toBe(txId);
    expect((await balanceOf(u)).balance_usd).toBe(20);
    // Without a header the key is derived from the caller and the body.
    const a = await topup(u.token, { amount_usd: 1.25, stripe_token: "pm_card_mastercard" });
    const b = await topup(u.token, { amount_usd: 1.25, stripe_token: "pm_card_mastercard" });
    expect(b.body.transaction.id).toBe(a.body.transaction.id);
    expect((await balanceOf(u)).balance_usd).toBe(21.25);
    // ...per caller: another user with the same body is another payment.
    const v = await register();
    const c = await topup(v.token, { amount_usd: 1.25, stripe_token: "pm_card_mastercard" });
    expect(c.body.transaction.id).not.toBe(a.body.transaction.id);
  });

  it("a top-up whose Stripe answer was lost is retried with the same Stripe idempotency key: Stripe replays, the card is charged once", async () => {
    const u = await register();
    const header = `crash-${crypto.randomUUID()}`;
    // The state a crashed request leaves: our pending row (no PaymentIntent id, nothing credited)
    // and, at Stripe, the PaymentIntent it created and charged under the product's idempotency key.
    const txId = crypto.randomUUID();
    const key = `topup:${u.id}:key:${header}`;
    await env.DB.prepare(
      "INSERT INTO transactions (id, user_id, amount_micro, payment_method, status, idempotency_key, created_at) VALUES (?, ?, 7000000, 'stripe', 'pending', ?, ?)",
    )
      .bind(txId, u.id, key, Date.now())
      .run();
    const stripe = stripeFor(env);
    const charged = await stripe.paymentIntents.create(
      {
        amount: 700,
        currency: "usd",
        payment_method: "pm_card_visa",
        automatic_payment_methods: { enabled: true, allow_redirects: "never" },
        confirm: true,
        description: "Mnemo balance top-up",
        metadata: { transaction_id: txId, user_id: u.id },
      },
      { idempotencyKey: `mnemo-${await sha256Hex(key)}` },
    );
    expect(charged.status).toBe("succeeded");

    // The client retries with its Idempotency-Key: the product must reuse the Stripe key, so Stripe
    // replays the charged PaymentIntent instead of charging again.
    const retry = await topup(u.token, { amount_usd: 7, stripe_token: "pm_card_visa" }, { "idempotency-key": header });
    expect(retry.status, JSON.stringify(retry.body)).toBe(201);
    expect(retry.body.transaction).toMatchObject({ id: txId, status: "completed", stripe_payment_id: charged.id, amount_usd: 7 });
    const sent = await stripeRequests((q) => q.params.metadata?.transaction_id === txId);
    expect(sent).toHaveLength(2);
    expect(sent[1].idempotencyKey).toBe(sent[0].idempotencyKey);
    const intents = (await (await fetch(`${env.STRIPE_API_BASE}/__intents`)).json()) as {
      intents: { id: string; metadata?: Record<string, string> }[];
    };
    expect(intents.intents.filter((i) => i.metadata?.transaction_id === txId).map((i) => i.id)).toEqual([charged.id]);
    expect((await balanceOf(u)).balance_usd).toBe(7);
    expect((await ledgerOf({ transactionId: txId })).filter((e) => e.kind === "topup")).toHaveLength(1);
  });

  it("answers a declined card with 402 payment_failed and records the failure; nothing is credited", async () => {
    const u = await register();
    const r = await topup(u.token, { amount_usd: 5, stripe_token: "pm_card_chargeDeclined" });
    expectError(r, 402, "payment_failed");
    expect((await balanceOf(u)).balance_usd).toBe(0);
    const t = await env.DB.prepare(`SELECT * FROM transactions WHERE user_id = ?`).bind(u.id).first<any>();
    expect(t).toMatchObject({ status: "failed", amount_micro: 5_000_000 });
    expect(t.failure_reason).toMatch(/declined/);
    expect(t.stripe_payment_id).toMatch(/^pi_/);
  });

  it("validates amounts and tokens with 400s, and hides other people's contracts", async () => {
    const u = await register();
    expectError(await topup(u.token, { amount_usd: 0.49, stripe_token: "pm_card_visa" }), 400, "validation_failed");
    expectError(await topup(u.token, { amount_usd: 1.005, stripe_token: "pm_card_visa" }), 400, "validation_failed");
    expectError(await topup(u.token, { amount_usd: -3, stripe_token: "pm_card_visa" }), 400, "validation_failed");
    expectError(await topup(u.token, { amount_usd: 5, stripe_token: "card_1234" }), 400, "validation_failed");
    expectError(await topup(u.token, { stripe_token: "pm_card_visa" }), 400, "validation_failed");
    expectError(
      await api("POST", "/api/payments/create", {
        token: u.token,
        body: { amount_usd: 5, payment_method: "paypal", stripe_token: "pm_card_visa" },
      }),
      400,
      "validation_failed",
    );
    expectError(await topup(u.token, { contract_id: crypto.randomUUID(), stripe_token: "pm_card_visa" }), 404, "not_found");
    expectError(
      await api("POST", "/api/payments/create", { body: { amount_usd: 5, payment_method: "stripe", stripe_token: "pm_card_visa" } }),
      401,
      "unauthenticated",
    );
  });

  it("answers 503 payments_unavailable without Stripe keys", async () => {
    const u = await register();
    for (const missing of ["STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"]) {
      const bare = { ...env, [missing]: undefined };
      const req = (path: string, body: unknown, headers: Record<string, string> = {}) =>
        worker.fetch(
          new Request(`https://mnemo.test${path}`, {
            method: "POST",
            headers: { "content-type": "application/json", ...headers },
            body: JSON.stringify(body),
          }),
          bare as any,
          createExecutionContext(),
        );
      const res = await req(
        "/api/payments/create",
        { amount_usd: 5, payment_method: "stripe", stripe_token: "pm_card_visa" },
        { authorization: `Bearer ${u.token}` },
      );
      expect(res.status).toBe(503);
      expect(((await res.json()) as any).error.code).toBe("payments_unavailable");
      const hook = await req(
        "/api/payments/webhook",
        { id: "evt_x", type: "payment_intent.succeeded" },
        { "stripe-signature": "t=1,v1=00" },
      );
      expect(hook.status).toBe(503);
      expect(((await hook.json()) as any).error.code).toBe("payments_unavailable");
    }
  });
});

describe("POST /api/payments/webhook", () => {
  it("completes a processing payment once, however often the event is delivered", async () => {
    const u = await register();
    const r = await topup(u.token, { amount_usd: 12.34, stripe_token: "pm_card_processing" });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.transaction.status).toBe("pending");
    const piId = r.body.transaction.stripe_payment_id;
    expect(piId).toMatch(/^pi_/);
    expect((await balanceOf(u)).balance_usd).toBe(0);

    const event = piEvent("payment_intent.succeeded", {
      id: piId,
      amount: 1234,
      amount_received: 1234,
      status: "succeeded",
      metadata: { transaction_id: r.body.transaction.id },
    });
    const first = await deliverEvent(event);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body).toMatchObject({ received: true, duplicate: false, handled: true });
    expect((await balanceOf(u)).balance_usd).toBe(12.34);

    // The same event again (Stripe retries), and a second event for the same payment.
    const replay = await deliverEvent(event);
    expect(replay.body).toMatchObject({ received: true, duplicate: true });
    const twin = await deliverEvent({ ...event, id: `evt_${crypto.randomUUID().replaceAll("-", "")}` });
    expect(twin.status).toBe(200);
    expect((await balanceOf(u)).balance_usd).toBe(12.34);
    expect((await ledgerOf({ transactionId: r.body.transaction.id })).filter((e) => e.kind === "topup")).toHaveLength(1);
    const t = await env.DB.prepare(`SELECT status, settled_at FROM transactions WHERE id = ?`).bind(r.body.transaction.id).first<any>();
    expect(t.status).toBe("completed");
  });

  it("finds the transaction by metadata when the request died before storing the intent id", async () => {
    const u = await register();
    const txId = crypto.randomUUID();
    await env.DB.prepare(
      `INSERT INTO transactions (id, user_id, amount_micro, payment_method, status, idempotency_key, created_at) VALUES (?, ?, 3000000, 'stripe', 'pending', ?, ?)`,
    )
      .bind(txId, u.id, `test:${txId}`, Date.now())
      .run();
    const piId = `pi_lost_${crypto.randomUUID().slice(0, 8)}`;
    const res = await deliverEvent(
      piEvent("payment_intent.succeeded", {
        id: piId,
        amount: 300,
        amount_received: 300,
        status: "succeeded",
        metadata: { transaction_id: txId },
      }),
    );
    expect(res.body.handled).toBe(true);
    expect((await balanceOf(u)).balance_usd).toBe(3);
    expect(
      (await env.DB.prepare(`SELECT stripe_payment_id FROM transactions WHERE id = ?`).bind(txId).first<any>()).stripe_payment_id,
    ).toBe(piId);
  });

  it("marks a pending payment failed on payment_intent.payment_failed", async () => {
    const u = await register();
    const r = await topup(u.token, { amount_usd: 7, stripe_token: "pm_card_processing" });
    const pi = r.body.transaction.stripe_payment_id;
    const res = await deliverEvent(
      piEvent("payment_intent.payment_failed", {
        id: pi,
        amount: 700,
        status: "requires_payment_method",
        last_payment_error: { message: "Your card has insufficient funds." },
      }),
    );
    expect(res.body).toMatchObject({ handled: true });
    const t = await env.DB.prepare(`SELECT status, failure_reason FROM transactions WHERE id = ?`).bind(r.body.transaction.id).first<any>();
    expect(t).toEqual({ status: "failed", failure_reason: "Your card has insufficient funds." });
    expect((await balanceOf(u)).balance_usd).toBe(0);
  });

  it("refuses bad, stale and missing signatures; ignores unknown types with 200", async () => {
    const event = piEvent("payment_intent.succeeded", { id: "pi_nope", amount: 100, status: "succeeded" });
    expectError(await deliverEvent(event, { secret: "whsec_wrong" }), 400, "validation_failed");
    expectError(await deliverEvent(event, { timestamp: Math.floor(Date.now() / 1000) - 301 }), 400, "validation_failed");
    expectError(await deliverEvent(event, { header: null }), 400, "validation_failed");
    expectError(await deliverEvent(event, { header: "t=123,v1=deadbeef" }), 400, "validation_failed");
    // Within the tolerance is fine.
    const recent = await deliverEvent(
      { ...event, id: `evt_${crypto.randomUUID().replaceAll("-", "")}` },
      { timestamp: Math.floor(Date.now() / 1000) - 200 },
    );
    expect(recent.status).toBe(200);
    expect(recent.body.handled).toBe(false); // unknown intent
    const unknown = await deliverEvent({
      id: `evt_${crypto.randomUUID().replaceAll("-", "")}`,
      type: "customer.created",
      data: { object: { object: "customer", id: "cus_1" } },
    });
    expect(unknown.status).toBe(200);
    expect(unknown.body).toMatchObject({ received: true, handled: false, type: "customer.created" });
  });

  it("takes refunds back from the balance, once per cumulative amount, never below zero or into holds", async () => {
    const u = await register();
    const r = await topup(u.token, { amount_usd: 20, stripe_token: "pm_card_visa" });
    const t = r.body.transaction;
    const refund = (cents: number) =>
      deliverEvent({
        id: `evt_${crypto.randomUUID().replaceAll("-", "")}`,
        type: "charge.refunded",
        data: {
          object: {
            object: "charge",
            id: "ch_1",
            payment_intent: t.stripe_payment_id,
            amount: 2000,
            amount_refunded: cents,
            refunded: cents === 2000,
          },
        },
      });

    const partial = await refund(500);
    expect(partial.body).toMatchObject({ handled: true });
    expect((await balanceOf(u)).balance_usd).toBe(15);
    // The same cumulative refund again (another event id) changes nothing.
    await refund(500);
    expect((await balanceOf(u)).balance_usd).toBe(15);

    // The renter spends: 12 of the 15 left are held by... simulate a hold directly in D1.
    const c = await clientRow(u.id);
    await env.DB.prepare(`UPDATE clients SET held_micro = 12000000 WHERE id = ?`).bind(c.id).run();
    await refund(2000); // 15 more due, only 3 free
    const after = await clientRow(u.id);
    expect(after.balance_micro).toBe(12_000_000);
    expect(after.held_micro).toBe(12_000_000);
    const refunds = (await ledgerOf({ transactionId: t.id })).filter((e) => e.kind === "refund");
    expect(refunds.map((e) => e.amount_micro)).toEqual([-5_000_000, -3_000_000]);
    expect(refunds[1].memo).toMatch(/12000000 micro-USD unrecovered/);
    expect((await env.DB.prepare(`SELECT status FROM transactions WHERE id = ?`).bind(t.id).first<any>()).status).toBe("refunded");
    await env.DB.prepare(`UPDATE clients SET held_micro = 0 WHERE id = ?`).bind(c.id).run();
  });
});

describe("webhook edge cases", () => {
  it("does not credit a payment in another currency", async () => {
    const u = await register();
    const r = await topup(u.token, { amount_usd: 3, stripe_token: "pm_card_processing" });
    const res = await deliverEvent(
      piEvent("payment_intent.succeeded", {
        id: r.body.transaction.stripe_payment_id,
        amount: 300,
        amount_received: 300,
        currency: "eur",
        status: "succeeded",
      }),
    );
    expect(res.body).toMatchObject({ received: true, handled: false });
    expect((await balanceOf(u)).balance_usd).toBe(0);
  });
});
