import { describe, expect, it } from "vitest";
import { runDurableObjectAlarm, SELF } from "cloudflare:test";
import { api, credit, env, expectError, ready, register, registerNode, type Account } from "../../test/helpers";

const stub = (region: string) => env.REGION_CLUSTER.get(env.REGION_CLUSTER.idFromName(region));
/** A heartbeat delivers the node's pending contracts; its agent then makes each one ready (active). */
const heartbeat = async (
  p: Account,
  nodeId: string,
  body: Record<string, unknown> = { available_ram_gb: 1000, available_vram_gb: 1000 },
) => {
  const r = await api("POST", `/api/nodes/${nodeId}/heartbeat`, { token: p.token, body });
  for (const k of r.body?.contracts ?? []) if (k.status === "pending") await ready(p, nodeId, k.id);
  return r;
};
/** Lets the next heartbeat through the rate limit without waiting 30 s. */
const rewindHeartbeat = (nodeId: string, ms = 31_000) =>
  env.DB.prepare("UPDATE nodes SET last_heartbeat_at = last_heartbeat_at - ? WHERE id = ?").bind(ms, nodeId).run();
const balance = async (a: Account) => (await api("GET", "/api/billing/balance", { token: a.token })).body;

describe("the capacity race", () => {
  it("never over-commits a node when 48 reservations arrive at once", async () => {
    const p = await register("provider");
    const node = await registerNode(p, { total_ram_gb: 100, total_vram_gb: 10, price_per_gb_sec: 0.000001 });
    const renters = await Promise.all(Array.from({ length: 6 }, () => register("user")));
    await Promise.all(renters.map((r) => credit(r.id, 50)));
    // 48 requests for 7 GB RAM + 1 GB VRAM: RAM allows 14, VRAM allows 10 — so exactly 10 can win.
    const results = await Promise.all(
      Array.from({ length: 48 }, (_, i) =>
        api("POST", "/api/contracts/create", {
          token: renters[i % 6].token,
          body: { node_id: node.id, ram_gb: 7, vram_gb: 1, duration_sec: 60 },
        }),
      ),
    );
    const won = results.filter((r) => r.status === 201);
    const lost = results.filter((r) => r.status !== 201);
    expect(won).toHaveLength(10);
    for (const r of lost) expectError(r, 409, "insufficient_capacity");
    const held = await env.DB.prepare(
      "SELECT SUM(ram_gb) AS ram, SUM(vram_gb) AS vram, COUNT(*) AS n FROM contracts WHERE node_id = ? AND status IN ('pending','active')",
    )
      .bind(node.id)
      .first<any>();
    expect(held).toEqual({ ram: 70, vram: 10, n: 10 });
    const live = await stub(node.region).getNode(node.region, node.id);
    expect(live).toMatchObject({ heldRamGb: 70, heldVramGb: 10, availableVramGb: 0 });
    // Every winner's hold is in the ledger exactly once, and no renter's held money exceeds their balance.
    const holds = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM ledger_entries WHERE kind = 'hold' AND contract_id IN (SELECT id FROM contracts WHERE node_id = ?)",
    )
      .bind(node.id)
      .first<any>();
    expect(holds.n).toBe(10);
    for (const r of renters) {
      const b = await balance(r);
      expect(b.held_usd).toBeLessThanOrEqual(b.balance_usd);
    }
  });

  it("never overspends a balance when one renter races for many nodes", async () => {
    const p = await register("provider");
    const region = "race-money-" + crypto.randomUUID().slice(0, 6);
    const nodes = await Promise.all(
      Array.from({ length: 6 }, () => registerNode(p, { region, total_ram_gb: 10, total_vram_gb: 0, price_per_gb_sec: 0.00001 })),
    );
    const renter = await register("user");
    await credit(renter.id, 0.02); // each contract holds 10 GB × 60 s × $0.00001 = $0.006: three fit
    const results = await Promise.all(
      nodes.map((n) =>
        api("POST", "/api/contracts/create", { token: renter.token, body: { node_id: n.id, ram_gb: 10, vram_gb: 0, duration_sec: 60 } }),
      ),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(3);
    for (const r of results.filter((r) => r.status !== 201)) expectError(r, 402, "insufficient_funds");
    expect(await balance(renter)).toMatchObject({ balance_usd: 0.02, held_usd: 0.018, available_usd: 0.002 });
    // The losers' capacity was given back at once.
    const free = await Promise.all(nodes.map((n) => stub(region).getNode(region, n.id)));
    expect(free.filter((n) => n!.heldRamGb === 0)).toHaveLength(3);
  });
});

describe("contract lifecycle", () => {
  async function setup(opts: { price?: number; min?: number; max?: number; credit?: number } = {}) {
    const p = await register("provider");
    const node = await registerNode(p, {
      total_ram_gb: 64,
      total_vram_gb: 16,
      price_per_gb_sec: opts.price ?? 0.000001,
      min_duration_sec: opts.min ?? 60,
      max_duration_sec: opts.max ?? 3600,
    });
    const renter = await register("user");
    await credit(renter.id, opts.credit ?? 10);
    return { p, node, renter };
  }

  it("creates a pending contract holding its estimate; the node's ready makes it active with its term", async () => {
    const { p, node, renter } = await setup();
    const r = await api("POST", "/api/contracts/create", {
      token: renter.token,
      body: { node_id: node.id, ram_gb: 8, vram_gb: 2, duration_sec: 600 },
    });
    expect(r.status).toBe(201);
    // 10 GB × 600 s × $0.000001 = $0.006
    expect(r.body.contract).toMatchObject({
      status: "pending",
      start_time: null,
      end_time: null,
      total_cost_usd: 0.006,
      held_usd: 0.006,
      accrued_cost_usd: 0,
      client_id: renter.clientId,
      node_id: node.id,
      auto_renew: false,
      settlement_hash: null,
    });
    expect(await balance(renter)).toMatchObject({ balance_usd: 10, held_usd: 0.006, available_usd: 9.994 });
    const hb = await heartbeat(p, node.id);
    expect(hb.body.contracts).toHaveLength(1);
    const got = await api("GET", `/api/contracts/${r.body.contract.id}`, { token: renter.token });
    expect(got.body.contract.status).toBe("active");
    const start = Date.parse(got.body.contract.start_time);
    expect(Date.parse(got.body.contract.end_time) - start).toBe(600_000);
    expect(got.body.node.id).toBe(node.id);
    expect(got.body.metrics).toMatchObject({ available_ram_gb: 1000 });
    expect((await balance(renter)).burn_rate_usd_per_hour).toBe(0.036);
  });

  it("validates the request against the offer terms and the balance", async () => {
    const { node, renter } = await setup({ min: 120, max: 900, credit: 0.001 });
    expectError(
      await api("POST", "/api/contracts/create", {
        token: renter.token,
        body: { node_id: node.id, ram_gb: 1, vram_gb: 0, duration_sec: 60 },
      }),
      400,
      "validation_failed",
    );
    expectError(
      await api("POST", "/api/contracts/create", {
        token: renter.token,
        body: { node_id: node.id, ram_gb: 1, vram_gb: 0, duration_sec: 901 },
      }),
      400,
      "validation_failed",
    );
    expectError(
      await api("POST", "/api/contracts/create", {
        token: renter.token,
        body: { node_id: node.id, ram_gb: 0, vram_gb: 0, duration_sec: 300 },
      }),
      400,
      "validation_failed",
    );
    expectError(
      await api("POST", "/api/contracts/create", {
        token: renter.token,
        body: { node_id: node.id, ram_gb: 65, vram_gb: 0, duration_sec: 300 },
      }),
      409,
      "insufficient_capacity",
    );
    expectError(
      await api("POST", "/api/contracts/create", {
        token: renter.token,
        body: { node_id: node.id, ram_gb: 10, vram_gb: 0, duration_sec: 300 },
      }),
      402,
      "insufficient_funds",
    );
    expectError(
      await api("POST", "/api/contracts/create", {
        token: renter.token,
        body: { node_id: crypto.randomUUID(), ram_gb: 1, vram_gb: 0, duration_sec: 300 },
      }),
      404,
      "not_found",
    );
    const provider = await register("provider");
    expectError(
      await api("POST", "/api/contracts/create", {
        token: provider.token,
        body: { node_id: node.id, ram_gb: 1, vram_gb: 0, duration_sec: 300 },
      }),
      403,
      "forbidden",
    );
    // Nothing was held by the refusals.
    expect((await balance(renter)).held_usd).toBe(0);
    expect((await stub(node.region).getNode(node.region, node.id))!.heldRamGb).toBe(0);
  });

  it("refuses a hold past the monthly budget with 402 budget_exceeded", async () => {
    const { node, renter } = await setup({ credit: 100 });
    await api("PUT", "/api/auth/me/client", { token: renter.token, body: { budget_monthly_usd: 0.01 } });
    const ok = await api("POST", "/api/contracts/create", {
      token: renter.token,
      body: { node_id: node.id, ram_gb: 10, vram_gb: 0, duration_sec: 600 },
    }); // $0.006
    expect(ok.status).toBe(201);
    expectError(
      await api("POST", "/api/contracts/create", {
        token: renter.token,
        body: { node_id: node.id, ram_gb: 10, vram_gb: 0, duration_sec: 600 },
      }),
      402,
      "budget_exceeded",
    );
    expect((await api("GET", "/api/auth/me", { token: renter.token })).body.client.current_spend_usd).toBe(0.006);
  });

  it("settles: ends now, frees the capacity at once, charges the time held, and is idempotent", async () => {
    const { p, node, renter } = await setup();
    const k = (
      await api("POST", "/api/contracts/create", {
        token: renter.token,
        body: { node_id: node.id, ram_gb: 10, vram_gb: 0, duration_sec: 3600 },
      })
    ).body.contract;
    await heartbeat(p, node.id);
    // Pretend it started 125.3 s ago: billed 126 started seconds → 10 × 126 × $0.000001 = $0.00126.
    await env.DB.prepare("UPDATE contracts SET start_time = start_time - 125300, end_time = end_time - 125300 WHERE id = ?")
      .bind(k.id)
      .run();
    const s1 = await api("POST", `/api/contracts/${k.id}/settle`, { token: renter.token, body: {} });
    expect(s1.status).toBe(200);
    expect(s1.body.contract).toMatchObject({ status: "completed", total_cost_usd: 0.00126 });
    expect((await stub(node.region).getNode(node.region, node.id))!.heldRamGb).toBe(0);
    const s2 = await api("POST", `/api/contracts/${k.id}/settle`, { token: renter.token });
    expect(s2.status).toBe(200);
    expect(s2.body.contract.total_cost_usd).toBe(0.00126);
    expect(s2.body.contract.ended_at).toBe(s1.body.contract.ended_at);
    expectError(await api("POST", `/api/contracts/${k.id}/cancel`, { token: renter.token }), 409, "conflict");
    expectError(await api("POST", `/api/contracts/${k.id}/extend`, { token: renter.token, body: { additional_sec: 60 } }), 409, "conflict");
  });

  it("bills at least the minimum duration", async () => {
    const { p, node, renter } = await setup({ min: 120 });
    const k = (
      await api("POST", "/api/contracts/create", {
        token: renter.token,
        body: { node_id: node.id, ram_gb: 10, vram_gb: 0, duration_sec: 600 },
      })
    ).body.contract;
    await heartbeat(p, node.id);
    const s = await api("POST", `/api/contracts/${k.id}/settle`, { token: renter.token });
    expect(s.body.contract.total_cost_usd).toBe(0.0012); // 10 GB × 120 s × $0.000001
  });

  it("cancels a pending contract and releases its hold", async () => {
    const { node, renter } = await setup();
    const k = (
      await api("POST", "/api/contracts/create", {
        token: renter.token,
        body: { node_id: node.id, ram_gb: 10, vram_gb: 0, duration_sec: 600 },
      })
    ).body.contract;
    const c = await api("POST", `/api/contracts/${k.id}/cancel`, { token: renter.token });
    expect(c.body.contract).toMatchObject({ status: "cancelled", total_cost_usd: 0, held_usd: 0, charged_usd: 0 });
    expect(await balance(renter)).toMatchObject({ balance_usd: 10, held_usd: 0 });
    expect((await stub(node.region).getNode(node.region, node.id))!.heldRamGb).toBe(0);
  });

  it("extends within the offer's maximum, holding the added cost", async () => {
    const { p, node, renter } = await setup({ max: 900 });
    const k = (
      await api("POST", "/api/contracts/create", {
        token: renter.token,
        body: { node_id: node.id, ram_gb: 10, vram_gb: 0, duration_sec: 600 },
      })
    ).body.contract;
    await heartbeat(p, node.id);
    const before = (await api("GET", `/api/contracts/${k.id}`, { token: renter.token })).body.contract;
    const e = await api("POST", `/api/contracts/${k.id}/extend`, { token: renter.token, body: { additional_sec: 300 } });
    expect(e.status).toBe(200);
    expect(Date.parse(e.body.contract.end_time) - Date.parse(before.end_time)).toBe(300_000);
    expect(e.body.contract).toMatchObject({ total_cost_usd: 0.009, held_usd: 0.009 });
    expect((await balance(renter)).held_usd).toBe(0.009);
    expectError(
      await api("POST", `/api/contracts/${k.id}/extend`, { token: renter.token, body: { additional_sec: 1 } }),
      400,
      "validation_failed",
    );
  });

  it("expires at the end of its term through the region alarm", async () => {
    const { p, node, renter } = await setup();
    const k = (
      await api("POST", "/api/contracts/create", {
        token: renter.token,
        body: { node_id: node.id, ram_gb: 10, vram_gb: 0, duration_sec: 600 },
      })
    ).body.contract;
    await heartbeat(p, node.id);
    await env.DB.prepare("UPDATE contracts SET start_time = start_time - 601000, end_time = end_time - 601000 WHERE id = ?")
      .bind(k.id)
      .run();
    await runDurableObjectAlarm(stub(node.region));
    const got = (await api("GET", `/api/contracts/${k.id}`, { token: renter.token })).body.contract;
    expect(got).toMatchObject({ status: "completed", total_cost_usd: 0.006, end_reason: "term ended" });
    expect((await stub(node.region).getNode(node.region, node.id))!.heldRamGb).toBe(0);
  });
});

describe("who sees what", () => {
  it("scopes lists by role and hides other renters' contracts", async () => {
    const p = await register("provider");
    const otherProvider = await register("provider");
    const node = await registerNode(p);
    const a = await register("user");
    const b = await register("user");
    await credit(a.id, 5);
    await credit(b.id, 5);
    const ka = (
      await api("POST", "/api/contracts/create", { token: a.token, body: { node_id: node.id, ram_gb: 1, vram_gb: 0, duration_sec: 60 } })
    ).body.contract;
    const kb = (
      await api("POST", "/api/contracts/create", { token: b.token, body: { node_id: node.id, ram_gb: 1, vram_gb: 0, duration_sec: 60 } })
    ).body.contract;
    expect((await api("GET", "/api/contracts", { token: a.token })).body.contracts.map((k: any) => k.id)).toEqual([ka.id]);
    const mine = await api("GET", `/api/contracts?node_id=${node.id}`, { token: p.token });
    expect(mine.body.total_count).toBe(2);
    expect((await api("GET", "/api/contracts", { token: otherProvider.token })).body.total_count).toBe(0);
    expectError(await api("GET", `/api/contracts/${kb.id}`, { token: a.token }), 404, "not_found");
    expectError(await api("POST", `/api/contracts/${kb.id}/settle`, { token: a.token }), 404, "not_found");
    expectError(await api("POST", `/api/contracts/${kb.id}/cancel`, { token: p.token }), 403, "forbidden");
    expect((await api("GET", `/api/contracts/${kb.id}`, { token: p.token })).status).toBe(200);
    expect((await api("GET", "/api/contracts?status=pending&limit=1", { token: p.token })).body.contracts).toHaveLength(1);
    expectError(await api("GET", "/api/contracts?status=done", { token: p.token }), 400, "validation_failed");
  });
});

describe("failover", () => {
  it("moves an active contract to the best other node when its node goes silent", async () => {
    const p = await register("provider");
    const region = "fo-" + crypto.randomUUID().slice(0, 6);
    const a = await registerNode(p, { region, latitude: 50, longitude: 8, total_ram_gb: 32, total_vram_gb: 0 });
    const near = await registerNode(p, { region, latitude: 50.1, longitude: 8.1, total_ram_gb: 32, total_vram_gb: 0 });
    await registerNode(p, { region, latitude: 60, longitude: 20, total_ram_gb: 32, total_vram_gb: 0 });
    const renter = await register("user");
    await credit(renter.id, 10);
    const k = (
      await api("POST", "/api/contracts/create", {
        token: renter.token,
        body: { node_id: a.id, ram_gb: 16, vram_gb: 0, duration_sec: 3600 },
      })
    ).body.contract;
    await heartbeat(p, a.id);
    // It ran 100 s, then node A fell silent for longer than NODE_OFFLINE_AFTER_SEC.
    await env.DB.prepare("UPDATE contracts SET start_time = start_time - 100000, end_time = end_time - 100000 WHERE id = ?")
      .bind(k.id)
      .run();
    await env.DB.prepare("UPDATE nodes SET last_heartbeat_at = ? WHERE id = ?")
      .bind(Date.now() - 200_000, a.id)
      .run();
    await runDurableObjectAlarm(stub(region));
    const old = (await api("GET", `/api/contracts/${k.id}`, { token: renter.token })).body.contract;
    expect(old.status).toBe("failed");
    expect(old.failed_over_to).toBeTruthy();
    // 16 GB × 100–101 started seconds × $0.000001 (the sweep runs a moment after the rewind):
    // the unused ~3,500 s are not charged.
    expect([0.0016, 0.001616]).toContain(old.total_cost_usd);
    expect(old.charged_usd).toBe(old.total_cost_usd);
    const next = (await api("GET", `/api/contracts/${old.failed_over_to}`, { token: renter.token })).body.contract;
    expect(next).toMatchObject({ node_id: near.id, status: "pending", ram_gb: 16, failed_over_from: k.id });
    expect(next.duration_sec).toBeGreaterThanOrEqual(3499);
    expect(next.duration_sec).toBeLessThanOrEqual(3500);
    const b = await balance(renter);
    expect(b.balance_usd).toBe(Math.round((10 - old.charged_usd) * 1e6) / 1e6);
    expect(b.held_usd).toBeCloseTo(next.held_usd, 9);
    expect((await api("GET", `/api/nodes/${a.id}`, { token: p.token })).body.node.status).toBe("offline");
  });

  it("fails a contract the node rejects, and fails without replacement when no node can hold it", async () => {
    const p = await register("provider");
    const node = await registerNode(p, { total_ram_gb: 32, total_vram_gb: 0 });
    const renter = await register("user");
    await credit(renter.id, 10);
    const k = (
      await api("POST", "/api/contracts/create", {
        token: renter.token,
        body: { node_id: node.id, ram_gb: 16, vram_gb: 0, duration_sec: 600 },
      })
    ).body.contract;
    await heartbeat(p, node.id);
    await rewindHeartbeat(node.id);
    const hb = await heartbeat(p, node.id, { available_ram_gb: 4, available_vram_gb: 0, rejected_contracts: [k.id] });
    expect(hb.body.contracts).toEqual([]);
    const after = (await api("GET", `/api/contracts/${k.id}`, { token: renter.token })).body.contract;
    expect(after).toMatchObject({ status: "failed", failed_over_to: null, end_reason: "rejected by the node" });
    expect(await balance(renter)).toMatchObject({ held_usd: 0 });
    expect((await env.DB.prepare("SELECT failed_contracts FROM nodes WHERE id = ?").bind(node.id).first<any>()).failed_contracts).toBe(1);
    // The failure lowers the node's reliability at its next heartbeat (5 points per failure in 30 days).
    const scoreBefore = (await api("GET", `/api/nodes/${node.id}`, { token: p.token })).body.node.uptime_score;
    await rewindHeartbeat(node.id);
    await heartbeat(p, node.id, { available_ram_gb: 32, available_vram_gb: 0 });
    const scoreAfter = (await api("GET", `/api/nodes/${node.id}`, { token: p.token })).body.node.uptime_score;
    expect(scoreBefore - scoreAfter).toBeGreaterThan(4.5);
    expect(scoreAfter).toBeLessThan(95);
    // A failure older than the 30-day window no longer counts.
    await env.DB.prepare("UPDATE contracts SET ended_at = ? WHERE id = ?")
      .bind(Date.now() - 31 * 86_400_000, k.id)
      .run();
    await rewindHeartbeat(node.id);
    await heartbeat(p, node.id, { available_ram_gb: 32, available_vram_gb: 0 });
    const scoreLater = (await api("GET", `/api/nodes/${node.id}`, { token: p.token })).body.node.uptime_score;
    expect(scoreLater).toBeGreaterThan(scoreAfter + 4.5);
  });
});

describe("real time", () => {
  it("sends contract_update to the renter's WebSocket when a contract changes state", async () => {
    const p = await register("provider");
    const node = await registerNode(p);
    const renter = await register("user");
    await credit(renter.id, 5);
    expectError(await api("GET", `/ws/${renter.clientId}`, { headers: { upgrade: "websocket" } }), 401, "unauthenticated");
    const other = await register("user");
    expectError(await api("GET", `/ws/${renter.clientId}?token=${other.token}`, { headers: { upgrade: "websocket" } }), 404, "not_found");

    const res = await SELF.fetch(`https://mnemo.test/ws/${renter.clientId}?region=${node.region}`, {
      headers: { upgrade: "websocket", "sec-websocket-protocol": `bearer, ${renter.token}` },
    });
    expect(res.status).toBe(101);
    expect(res.headers.get("sec-websocket-protocol")).toBe("bearer");
    const ws = res.webSocket!;
    const messages: any[] = [];
    ws.accept();
    ws.addEventListener("message", (e) => messages.push(JSON.parse(e.data as string)));
    const k = (
      await api("POST", "/api/contracts/create", {
        token: renter.token,
        body: { node_id: node.id, ram_gb: 1, vram_gb: 0, duration_sec: 60 },
      })
    ).body.contract;
    // The creation's update follows the response (gathered with concurrent ones); then the activation's.
    for (const end = Date.now() + 3000; Date.now() < end && !messages.some((m) => m.type === "contract_update"); )
      await new Promise((r) => setTimeout(r, 10));
    await heartbeat(p, node.id);
    const deadline = Date.now() + 3000;
    const seen = () =>
      messages.some((m) => m.type === "contract_update" && m.data.status === "active") && messages.some((m) => m.type === "market_update");
    while (Date.now() < deadline && !seen()) await new Promise((r) => setTimeout(r, 25));
    const updates = messages.filter((m) => m.type === "contract_update" && m.data.id === k.id).map((m) => m.data.status);
    expect(updates).toEqual(["pending", "active"]);
    expect(messages.some((m) => m.type === "market_update" && m.data.region === node.region)).toBe(true);
    ws.close();
  });
});
