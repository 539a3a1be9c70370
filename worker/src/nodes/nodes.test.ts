import { describe, expect, it } from "vitest";
import { runDurableObjectAlarm } from "cloudflare:test";
import { api, env, expectError, register, registerNode, credit } from "../../test/helpers";

const stub = (region: string) => env.REGION_CLUSTER.get(env.REGION_CLUSTER.idFromName(region));

describe("node registration", () => {
  it("registers an active node with available = total, its offer terms, and tells the region DO", async () => {
    const p = await register("provider");
    const node = await registerNode(p, {
      total_ram_gb: 128,
      total_vram_gb: 48,
      price_per_gb_sec: 0.0000008,
      min_duration_sec: 120,
      max_duration_sec: 7200,
      egress_price_per_gb: 0.05,
      node_type: "edge_cluster",
    });
    expect(node).toMatchObject({
      status: "active",
      total_ram_gb: 128,
      available_ram_gb: 128,
      total_vram_gb: 48,
      available_vram_gb: 48,
      price_per_gb_sec: 0.0000008,
      min_duration_sec: 120,
      max_duration_sec: 7200,
      egress_price_per_gb: 0.05,
      provider_id: p.id,
      uptime_score: 99,
    });
    const row = await env.DB.prepare("SELECT price_nano FROM nodes WHERE id = ?").bind(node.id).first<{ price_nano: number }>();
    expect(row!.price_nano).toBe(800);
    const live = await stub(node.region).getNode(node.region, node.id);
    expect(live).toMatchObject({ availableRamGb: 128, availableVramGb: 48, heldRamGb: 0 });
    const clusters = await api("GET", "/api/clusters");
    expect(clusters.body.clusters.find((c: any) => c.region === node.region)).toMatchObject({
      total_nodes: 1,
      total_ram_gb: 128,
      node_composition: { edge_cluster: 1, datacenter: 0, mist_node: 0 },
    });
  });

  it("is for providers only and validates the body", async () => {
    const renter = await register("user");
    const r = await api("POST", "/api/nodes/register", {
      token: renter.token,
      body: {
        node_type: "datacenter",
        name: "x",
        region: "eu",
        total_ram_gb: 1,
        total_vram_gb: 0,
        bandwidth_mbps: 1,
        base_latency_ms: 1,
        price_per_gb_sec: 0.000001,
      },
    });
    expectError(r, 403, "forbidden");
    expectError(await api("POST", "/api/nodes/register", { body: {} }), 401, "unauthenticated");
    const p = await register("provider");
    const bad = await api("POST", "/api/nodes/register", {
      token: p.token,
      body: {
        node_type: "mainframe",
        name: "",
        region: "EU West",
        total_ram_gb: -1,
        total_vram_gb: 1.5,
        bandwidth_mbps: 1,
        base_latency_ms: 1,
        price_per_gb_sec: 0.0000000001,
      },
    });
    expectError(bad, 400, "validation_failed");
    const fields = bad.body.error.details.map((d: any) => d.field);
    expect(fields).toEqual(expect.arrayContaining(["node_type", "name", "region", "total_ram_gb", "total_vram_gb"]));
    expect(bad.body.error.details.find((d: any) => d.field === "total_ram_gb").message).toBe("must be >= 0");
    const tooPrecise = await api("POST", "/api/nodes/register", {
      token: p.token,
      body: {
        node_type: "datacenter",
        name: "x",
        region: "eu",
        total_ram_gb: 1,
        total_vram_gb: 0,
        bandwidth_mbps: 1,
        base_latency_ms: 1,
        price_per_gb_sec: 0.0000000001,
      },
    });
    expectError(tooPrecise, 400, "validation_failed");
    expect(tooPrecise.body.error.details[0].field).toBe("price_per_gb_sec");
  });

  it("works with an API key, as the agent uses it", async () => {
    const p = await register("provider");
    const key = (await api("POST", "/api/auth/api-keys", { token: p.token })).body.api_key;
    const r = await api("POST", "/api/nodes/register", {
      apiKey: key,
      body: {
        node_type: "mist_node",
        name: "gaming-pc",
        region: "eu-key",
        total_ram_gb: 32,
        total_vram_gb: 12,
        bandwidth_mbps: 500,
        base_latency_ms: 8,
        price_per_gb_sec: 0.0000005,
      },
    });
    expect(r.status).toBe(201);
    expect(r.body.node.provider_id).toBe(p.id);
  });
});

describe("heartbeats", () => {
  it("stores a metric, updates live capacity, and rate-limits with Retry-After", async () => {
    const p = await register("provider");
    const node = await registerNode(p, { total_ram_gb: 64, total_vram_gb: 24 });
    const hb = await api("POST", `/api/nodes/${node.id}/heartbeat`, {
      token: p.token,
      body: { available_ram_gb: 40, available_vram_gb: 20, cpu_usage_pct: 12.5, gpu_usage_pct: 3, temperature_c: 55, bandwidth_mbps: 900 },
    });
    expect(hb.status).toBe(200);
    expect(hb.body).toEqual({ status: "active", next_heartbeat_sec: 30, contracts: [] });
    const metrics = await env.DB.prepare("SELECT * FROM node_metrics WHERE node_id = ?").bind(node.id).all<any>();
    expect(metrics.results).toHaveLength(1);
    expect(metrics.results[0]).toMatchObject({ available_ram_gb: 40, available_vram_gb: 20, cpu_usage_pct: 12.5, temperature_c: 55 });
    const got = await api("GET", `/api/nodes/${node.id}`, { token: p.token });
    expect(got.body.node).toMatchObject({ available_ram_gb: 40, available_vram_gb: 20, reported_ram_gb: 40, bandwidth_mbps: 900 });
    expect(got.body.earnings).toEqual({ total_usd: 0, last_30d_usd: 0 });

    const again = await api("POST", `/api/nodes/${node.id}/heartbeat`, {
      token: p.token,
      body: { available_ram_gb: 10, available_vram_gb: 10 },
    });
    expectError(again, 429, "rate_limited");
    const retry = Number(again.headers.get("retry-after"));
    expect(retry).toBeGreaterThanOrEqual(29);
    expect(retry).toBeLessThanOrEqual(30);
    // The refused heartbeat changed nothing.
    expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM node_metrics WHERE node_id = ?").bind(node.id).first<any>()).n).toBe(1);
    expect((await api("GET", `/api/nodes/${node.id}`, { token: p.token })).body.node.available_ram_gb).toBe(40);
  });

  it("lets only one of several racing heartbeats through", async () => {
    const p = await register("provider");
    const node = await registerNode(p);
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        api("POST", `/api/nodes/${node.id}/heartbeat`, { token: p.token, body: { available_ram_gb: 1, available_vram_gb: 1 } }),
      ),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 429)).toHaveLength(7);
  });

  it("only the owner may heartbeat, update or withdraw a node", async () => {
    const owner = await register("provider");
    const other = await register("provider");
    const renter = await register("user");
    const node = await registerNode(owner);
    expectError(
      await api("POST", `/api/nodes/${node.id}/heartbeat`, { token: other.token, body: { available_ram_gb: 1, available_vram_gb: 1 } }),
      403,
      "forbidden",
    );
    expectError(
      await api("POST", `/api/nodes/${node.id}/heartbeat`, { token: renter.token, body: { available_ram_gb: 1, available_vram_gb: 1 } }),
      403,
      "forbidden",
    );
    expectError(await api("PUT", `/api/nodes/${node.id}`, { token: other.token, body: { name: "mine now" } }), 403, "forbidden");
    expectError(await api("DELETE", `/api/nodes/${node.id}`, { token: other.token }), 403, "forbidden");
    expectError(
      await api("POST", `/api/nodes/${crypto.randomUUID()}/heartbeat`, {
        token: owner.token,
        body: { available_ram_gb: 1, available_vram_gb: 1 },
      }),
      404,
      "not_found",
    );
    expectError(
      await api("POST", `/api/nodes/not-a-uuid/heartbeat`, { token: owner.token, body: { available_ram_gb: 1, available_vram_gb: 1 } }),
      400,
      "validation_failed",
    );
    // Earnings are the owner's business.
    expect((await api("GET", `/api/nodes/${node.id}`, { token: other.token })).body.earnings).toBeNull();
  });

  it("never releases capacity held by contracts, whatever a heartbeat reports", async () => {
    const p = await register("provider");
    const node = await registerNode(p, { total_ram_gb: 64, total_vram_gb: 0 });
    const renter = await register("user");
    await credit(renter.id, 100);
    const k = await api("POST", "/api/contracts/create", {
      token: renter.token,
      body: { node_id: node.id, ram_gb: 40, vram_gb: 0, duration_sec: 600 },
    });
    expect(k.status, JSON.stringify(k.body)).toBe(201);
    // The node claims everything is free again (e.g. its agent restarted): held stays held.
    const hb = await api("POST", `/api/nodes/${node.id}/heartbeat`, {
      token: p.token,
      body: { available_ram_gb: 64, available_vram_gb: 0 },
    });
    // Delivered (still pending until the node calls ready), and held all the same.
    expect(hb.body.contracts).toEqual([expect.objectContaining({ id: k.body.contract.id, ram_gb: 40, status: "pending" })]);
    const got = await api("GET", `/api/nodes/${node.id}`, { token: p.token });
    expect(got.body.node).toMatchObject({ reported_ram_gb: 64, held_ram_gb: 40, available_ram_gb: 24 });
    expect(await stub(node.region).getNode(node.region, node.id)).toMatchObject({ heldRamGb: 40, availableRamGb: 24 });
    const more = await api("POST", "/api/contracts/create", {
      token: renter.token,
      body: { node_id: node.id, ram_gb: 30, vram_gb: 0, duration_sec: 600 },
    });
    expectError(more, 409, "insufficient_capacity");
  });
});

describe("listing and updating nodes", () => {
  it("filters by type, region, capacity and status, and pages with total_count", async () => {
    const p = await register("provider");
    const region = "list-" + crypto.randomUUID().slice(0, 6);
    await registerNode(p, { region, node_type: "datacenter", total_ram_gb: 256, total_vram_gb: 80 });
    await registerNode(p, { region, node_type: "mist_node", total_ram_gb: 16, total_vram_gb: 8 });
    const m = await registerNode(p, { region, node_type: "mist_node", total_ram_gb: 32, total_vram_gb: 0 });
    await api("PUT", `/api/nodes/${m.id}`, { token: p.token, body: { status: "maintenance" } });
    const all = await api("GET", `/api/nodes?region=${region}`, { token: p.token });
    expect(all.body.total_count).toBe(3);
    expect((await api("GET", `/api/nodes?region=${region}&node_type=mist_node`, { token: p.token })).body.total_count).toBe(2);
    expect(
      (await api("GET", `/api/nodes?region=${region}&min_ram=100`, { token: p.token })).body.nodes.map((n: any) => n.total_ram_gb),
    ).toEqual([256]);
    expect((await api("GET", `/api/nodes?region=${region}&min_vram=8`, { token: p.token })).body.total_count).toBe(2);
    expect((await api("GET", `/api/nodes?region=${region}&status=maintenance`, { token: p.token })).body.nodes[0].id).toBe(m.id);
    const page = await api("GET", `/api/nodes?region=${region}&limit=2&offset=2`, { token: p.token });
    expect(page.body.nodes).toHaveLength(1);
    expect(page.body.total_count).toBe(3);
    expectError(await api("GET", `/api/nodes?limit=501`, { token: p.token }), 400, "validation_failed");
    expectError(await api("GET", `/api/nodes?status=sleeping`, { token: p.token }), 400, "validation_failed");
  });

  it("updates price and status, and withdrawing takes the node off the market", async () => {
    const p = await register("provider");
    const node = await registerNode(p, { price_per_gb_sec: 0.000002 });
    const up = await api("PUT", `/api/nodes/${node.id}`, {
      token: p.token,
      body: { price_per_gb_sec: 0.000003, name: "renamed", status: "maintenance" },
    });
    expect(up.status).toBe(200);
    expect(up.body.node).toMatchObject({ price_per_gb_sec: 0.000003, name: "renamed", status: "maintenance", available_ram_gb: 0 });
    expectError(await api("PUT", `/api/nodes/${node.id}`, { token: p.token, body: { status: "offline" } }), 400, "validation_failed");
    expectError(await api("PUT", `/api/nodes/${node.id}`, { token: p.token, body: { total_ram_gb: 1 } }), 400, "validation_failed");
    await api("PUT", `/api/nodes/${node.id}`, { token: p.token, body: { status: "active" } });
    expect((await api("GET", `/api/marketplace?region=${node.region}`)).body.total_count).toBe(1);
    const del = await api("DELETE", `/api/nodes/${node.id}`, { token: p.token });
    expect(del.body.node.status).toBe("offline");
    expect((await api("GET", `/api/marketplace?region=${node.region}`)).body.total_count).toBe(0);
  });
});

describe("going offline", () => {
  it("marks a silent node offline through the region alarm, and its next heartbeat brings it back", async () => {
    const p = await register("provider");
    const node = await registerNode(p);
    // 181 s of silence (NODE_OFFLINE_AFTER_SEC is 180 in tests).
    await env.DB.prepare("UPDATE nodes SET last_heartbeat_at = ? WHERE id = ?")
      .bind(Date.now() - 181_000, node.id)
      .run();
    expect(await runDurableObjectAlarm(stub(node.region))).toBe(true);
    expect((await api("GET", `/api/nodes/${node.id}`, { token: p.token })).body.node.status).toBe("offline");
    expect((await stub(node.region).getNode(node.region, node.id))!.status).toBe("offline");
    expect((await api("GET", "/api/clusters")).body.clusters.find((c: any) => c.region === node.region)).toBeUndefined();
    const hb = await api("POST", `/api/nodes/${node.id}/heartbeat`, {
      token: p.token,
      body: { available_ram_gb: 64, available_vram_gb: 24 },
    });
    expect(hb.body.status).toBe("active");
    expect((await stub(node.region).getNode(node.region, node.id))!.status).toBe("active");
  });
});
