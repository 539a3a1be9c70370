// Invoices. 24 GB at $0.000001234/GB-s: 91 s → 2,696 micro; 60 s minimum → 1,777 micro;
// egress 2 GB × $0.05 = 100,000 micro.
import { describe, expect, it } from "vitest";
import { adminAccount, api, expectError, register } from "../../test/helpers";
import { createContract, heartbeat, market, settledContract } from "../../test/money";

const GB = { ram_gb: 16, vram_gb: 8 };

describe("GET /api/payments/invoice/{client_id}", () => {
  it("lists each contract that ended in the period, with exact totals", async () => {
    const s = await market(1, { price_per_gb_sec: 0.000001234, total_ram_gb: 64, total_vram_gb: 24, egress_price_per_gb: 0.05 });
    const a = await settledContract(s, { ...GB, duration_sec: 3600, ranMs: 90_500, egressGb: 2 });
    const b = await settledContract(s, { ...GB, duration_sec: 3600, ranMs: 10_000 });
    // Neither a cancelled nor a running contract is on the invoice.
    const cancelled = await createContract(s, { ...GB, duration_sec: 600 });
    await api("POST", `/api/contracts/${cancelled.id}/cancel`, { token: s.renter.token });
    await createContract(s, { ...GB, duration_sec: 600 });
    await heartbeat(s);
    await api("POST", "/api/payments/create", {
      token: s.renter.token,
      body: { amount_usd: 2, payment_method: "stripe", stripe_token: "pm_card_visa" },
    });

    const r = await api("GET", `/api/payments/invoice/${s.renter.clientId}`, { token: s.renter.token });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const inv = r.body.invoice;
    expect(inv.client_id).toBe(s.renter.clientId);
    expect(inv.bill_to.email).toBe(s.renter.email);
    expect(inv.lines.map((l: any) => l.contract_id)).toEqual([a.id, b.id]);
    expect(inv.lines[0]).toMatchObject({
      billed_seconds: 91,
      gb_seconds: 24 * 91,
      compute_usd: 0.002696,
      egress_gb: 2,
      egress_usd: 0.1,
      total_usd: 0.102696,
      charged_usd: 0.102696,
      outstanding_usd: 0,
      settled: true,
      node_id: s.node.id,
    });
    expect(inv.lines[0].settlement_hash).toBe(a.settlement_hash);
    expect(inv.lines[1]).toMatchObject({ billed_seconds: 60, compute_usd: 0.001777, egress_usd: 0, total_usd: 0.001777 });
    expect(inv.totals).toEqual({
      contracts: 2,
      gb_seconds: 24 * 151,
      compute_usd: 0.004473,
      egress_usd: 0.1,
      total_usd: 0.104473,
      charged_usd: 0.104473,
      outstanding_usd: 0,
      payments_usd: 2,
      payments_count: 1,
    });
  });

  it("renders a printable HTML view of the same invoice", async () => {
    const s = await market(1, { price_per_gb_sec: 0.000001234, total_ram_gb: 64, total_vram_gb: 24 });
    await settledContract(s, { ...GB, duration_sec: 3600, ranMs: 90_500 });
    const r = await api("GET", `/api/payments/invoice/${s.renter.clientId}?format=html`, { token: s.renter.token });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^text\/html/);
    expect(r.body).toContain("<!doctype html>");
    expect(r.body).toContain("$0.002696");
    expect(r.body).toContain(s.renter.email);
    expect(r.body).not.toMatch(/<script/i);
  });

  it("is the owner's or an admin's only, and validates the period", async () => {
    const s = await market(1);
    const stranger = await register();
    expectError(await api("GET", `/api/payments/invoice/${s.renter.clientId}`, { token: stranger.token }), 404, "not_found");
    expectError(await api("GET", `/api/payments/invoice/${s.renter.clientId}`, { token: s.provider.token }), 404, "not_found");
    expectError(await api("GET", `/api/payments/invoice/${crypto.randomUUID()}`, { token: s.renter.token }), 404, "not_found");
    expectError(await api("GET", `/api/payments/invoice/not-a-uuid`, { token: s.renter.token }), 400, "validation_failed");
    expectError(await api("GET", `/api/payments/invoice/${s.renter.clientId}`), 401, "unauthenticated");
    const admin = await adminAccount();
    expect((await api("GET", `/api/payments/invoice/${s.renter.clientId}`, { token: admin.token })).status).toBe(200);
    expectError(
      await api("GET", `/api/payments/invoice/${s.renter.clientId}?from=yesterday`, { token: s.renter.token }),
      400,
      "validation_failed",
    );
    expectError(
      await api("GET", `/api/payments/invoice/${s.renter.clientId}?from=2026-02-01&to=2026-01-01`, { token: s.renter.token }),
      400,
      "validation_failed",
    );
    expectError(
      await api("GET", `/api/payments/invoice/${s.renter.clientId}?format=pdf`, { token: s.renter.token }),
      400,
      "validation_failed",
    );
    const old = await api("GET", `/api/payments/invoice/${s.renter.clientId}?from=2020-01-01&to=2020-02-01T00:00:00Z`, {
      token: s.renter.token,
    });
    expect(old.body.invoice).toMatchObject({ lines: [], period: { from: "2020-01-01T00:00:00.000Z", to: "2020-02-01T00:00:00.000Z" } });
    expect(old.body.invoice.totals.total_usd).toBe(0);
  });
});
