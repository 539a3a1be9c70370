// Provider payouts. The node charges $0.0002 per GB-second; one contract of 24 GB for 3,600 s costs
// 24 × 3,600 × 200,000 nano = 17,280,000 micro ($17.28): fee 864,000, provider 16,416,000.
import { describe, expect, it } from "vitest";
import { createExecutionContext } from "cloudflare:test";
import worker from "../index";
import { adminAccount, api, env, expectError, register } from "../../test/helpers";
import { market, settledContract, stripeRequests } from "../../test/money";

async function earningProvider() {
  const s = await market(20, { price_per_gb_sec: 0.0002, total_ram_gb: 64, total_vram_gb: 24 });
  await settledContract(s, { ram_gb: 16, vram_gb: 8, duration_sec: 3600, ranMs: 3_599_500 });
  return s;
}

const earnings = async (token: string) => (await api("GET", "/api/billing/earnings", { token })).body;

describe("provider earnings and payouts", () => {
  it("reports earnings, then pays the pending amount (whole cents) to the connected account once", async () => {
    const s = await earningProvider();
    expect(await earnings(s.provider.token)).toMatchObject({
      earned_usd: 16.416,
      paid_out_usd: 0,
      pending_usd: 16.416,
      min_payout_usd: 10,
      stripe_account_id: null,
    });
    // A renter has no earnings.
    expect(await earnings(s.renter.token)).toMatchObject({ earned_usd: 0, pending_usd: 0 });

    expectError(await api("POST", "/api/billing/payouts", { token: s.provider.token }), 409, "conflict");
    expectError(
      await api("PUT", "/api/billing/payout-account", { token: s.provider.token, body: { stripe_account_id: "ba_123456" } }),
      400,
      "validation_failed",
    );
    expectError(
      await api("PUT", "/api/billing/payout-account", { token: s.renter.token, body: { stripe_account_id: "acct_1RenterNope" } }),
      403,
      "forbidden",
    );
    const acct = `acct_1${crypto.randomUUID().replaceAll("-", "").slice(0, 14)}`;
    const put = await api("PUT", "/api/billing/payout-account", { token: s.provider.token, body: { stripe_account_id: acct } });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ stripe_account_id: acct });

    const r = await api("POST", "/api/billing/payouts", { token: s.provider.token });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.payout).toMatchObject({ amount_usd: 16.41, destination: acct });
    expect(r.body.payout.stripe_transfer_id).toMatch(/^tr_/);
    expect(r.body.payout.entry).toMatchObject({ kind: "payout", amount_usd: -16.41, transaction_id: r.body.payout.stripe_transfer_id });
    // The sub-cent rest stays pending.
    expect(r.body.earnings).toMatchObject({ earned_usd: 16.416, paid_out_usd: 16.41, pending_usd: 0.006 });

    const sent = await stripeRequests((q) => q.path === "/v1/transfers" && q.method === "POST" && q.params.destination === acct);
    expect(sent).toHaveLength(1);
    expect(sent[0].params).toMatchObject({
      amount: "1641",
      currency: "usd",
      destination: acct,
      transfer_group: `mnemo_payout_${s.provider.id}_0`,
      metadata: { user_id: s.provider.id },
    });
    expect(sent[0].idempotencyKey).toBe(`mnemo-payout:${s.provider.id}:0`);

    // Nothing left worth paying.
    expectError(await api("POST", "/api/billing/payouts", { token: s.provider.token }), 400, "below_minimum_payout");
  });

  it("pays once when two payout requests race", async () => {
    const s = await earningProvider();
    const acct = `acct_1${crypto.randomUUID().replaceAll("-", "").slice(0, 14)}`;
    await api("PUT", "/api/billing/payout-account", { token: s.provider.token, body: { stripe_account_id: acct } });
    const rs = await Promise.all([0, 1, 2].map(() => api("POST", "/api/billing/payouts", { token: s.provider.token })));
    const ok = rs.filter((r) => r.status === 201);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    for (const r of rs.filter((r) => r.status !== 201)) expectError(r, 400, "below_minimum_payout");
    expect(new Set(ok.map((r) => r.body.payout.stripe_transfer_id)).size).toBe(1);
    const payouts = await env.DB.prepare(`SELECT amount_micro FROM ledger_entries WHERE user_id = ? AND kind = 'payout'`)
      .bind(s.provider.id)
      .all<{ amount_micro: number }>();
    expect(payouts.results).toEqual([{ amount_micro: -16_410_000 }]);
    const created = await stripeRequests(
      (q) => q.path === "/v1/transfers" && q.method === "POST" && q.params.destination === acct && q.status === 200,
    );
    expect(new Set(created.map((q) => q.idempotencyKey))).toEqual(new Set([`mnemo-payout:${s.provider.id}:0`]));
  });

  it("records a transfer Stripe made before the ledger write was lost, instead of paying again", async () => {
    const s = await earningProvider();
    const acct = `acct_1${crypto.randomUUID().replaceAll("-", "").slice(0, 14)}`;
    await api("PUT", "/api/billing/payout-account", { token: s.provider.token, body: { stripe_account_id: acct } });
    // The transfer of an earlier attempt that died after Stripe answered.
    const earlier = await fetch(`${env.STRIPE_API_BASE}/v1/transfers`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${env.STRIPE_SECRET_KEY}`,
        "content-type": "application/x-www-form-urlencoded",
        "idempotency-key": `mnemo-payout:${s.provider.id}:0`,
      },
      body: `amount=1641&currency=usd&destination=${acct}&transfer_group=mnemo_payout_${s.provider.id}_0`,
    });
    const tr = (await earlier.json()) as { id: string };
    const r = await api("POST", "/api/billing/payouts", { token: s.provider.token });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.payout.stripe_transfer_id).toBe(tr.id);
    const creates = await stripeRequests((q) => q.path === "/v1/transfers" && q.method === "POST" && q.params.destination === acct);
    expect(creates).toHaveLength(1); // only the earlier one
  });

  it("answers 409 when Stripe refuses the account and 503 without Stripe", async () => {
    const s = await earningProvider();
    await api("PUT", "/api/billing/payout-account", { token: s.provider.token, body: { stripe_account_id: "acct_invalid01" } });
    expectError(await api("POST", "/api/billing/payouts", { token: s.provider.token }), 409, "conflict");
    expect((await earnings(s.provider.token)).paid_out_usd).toBe(0);

    const res = await worker.fetch(
      new Request("https://mnemo.test/api/billing/payouts", { method: "POST", headers: { authorization: `Bearer ${s.provider.token}` } }),
      { ...env, STRIPE_SECRET_KEY: undefined } as any,
      createExecutionContext(),
    );
    expect(res.status).toBe(503);
    expect(((await res.json()) as any).error.code).toBe("payments_unavailable");
  });

  it("admins see the money in the overview", async () => {
    await earningProvider();
    const a = await adminAccount();
    const r = await api("GET", "/api/admin/overview", { token: a.token });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.users.total).toBeGreaterThanOrEqual(3);
    expect(r.body.users.by_role.provider).toBeGreaterThanOrEqual(1);
    expect(r.body.nodes.by_status.active).toBeGreaterThanOrEqual(1);
    expect(r.body.contracts.by_status.completed).toBeGreaterThanOrEqual(1);
    expect(r.body.revenue.platform_fees_usd).toBeGreaterThanOrEqual(0.864);
    expect(r.body.revenue.charges_usd).toBeGreaterThanOrEqual(17.28);
    // Every settled cost splits exactly into fee and earning.
    const sums = await env.DB.prepare(
      `SELECT kind, SUM(amount_micro) AS s FROM ledger_entries WHERE kind IN ('charge','platform_fee','provider_earning') GROUP BY kind`,
    ).all<{ kind: string; s: number }>();
    const by = Object.fromEntries(sums.results.map((x) => [x.kind, x.s]));
    expect(by.platform_fee + by.provider_earning).toBe(-by.charge);
    expect(typeof r.body.ledger.ok).toBe("boolean");
    expect(r.body.ledger.entries_checked).toBeGreaterThan(0);
    expectError(await api("GET", "/api/admin/overview", { token: (await register()).token }), 403, "forbidden");
    expectError(await api("GET", "/api/admin/overview"), 401, "unauthenticated");
  });
});
