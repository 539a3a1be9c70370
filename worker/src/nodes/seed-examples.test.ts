import { describe, expect, it } from "vitest";
import { api, credit, env, expectError, register } from "../../test/helpers";

// The seed document's own examples, verbatim (issue 11): each must be accepted as written.
const region = "eu-west";
const seedNode = {
  node_type: "mist_node",
  name: "gaming-rig-berlin-01",
  region,
  latitude: 52.52,
  longitude: 13.405,
  total_ram_gb: 64,
  total_vram_gb: 24,
  bandwidth_mbps: 1000,
  base_latency_ms: 0.8,
  price_per_gb_sec: 0.0000008,
  metadata: { gpu: "RTX 4090", os: "linux" },
};
const seedHeartbeat = {
  available_ram_gb: 48,
  available_vram_gb: 20,
  cpu_usage_pct: 23.5,
  gpu_usage_pct: 12.75,
  temperature_c: 61.2,
  bandwidth_mbps: 940,
};

describe("the seed's examples, verbatim", () => {
  it("register (base_latency_ms 0.8), heartbeat with decimals, browse, match, create and settle all answer 2xx", async () => {
    const p = await register("provider");
    const reg = await api("POST", "/api/nodes/register", { token: p.token, body: seedNode });
    expect(reg.status, JSON.stringify(reg.body)).toBe(201);
    const node = reg.body.node;
    // Decimal latency, the seed's default score, and the seed's last_heartbeat field.
    expect(node).toMatchObject({ base_latency_ms: 0.8, uptime_score: 99, last_heartbeat: node.last_heartbeat_at });
    expect(typeof node.last_heartbeat).toBe("string");
    const stored = await env.DB.prepare("SELECT base_latency_ms, uptime_score FROM nodes WHERE id = ?")
      .bind(node.id)
      .first<{ base_latency_ms: number; uptime_score: number }>();
    expect(stored).toEqual({ base_latency_ms: 0.8, uptime_score: 99 });

    const renter = await register("user");
    await credit(renter.id, 50);
    const table: { what: string; call: () => ReturnType<typeof api>; status: number }[] = [
      {
        what: "heartbeat with decimals",
        call: () => api("POST", `/api/nodes/${node.id}/heartbeat`, { token: p.token, body: seedHeartbeat }),
        status: 200,
      },
      {
        what: "browse",
        call: () =>
          api(
            "GET",
            `/api/marketplace?region=${region}&min_ram_gb=8&max_price_per_gb_sec=0.000001&client_lat=52.52&client_lng=13.405&max_distance_km=50`,
          ),
        status: 200,
      },
      {
        what: "match",
        call: () =>
          api("POST", "/api/marketplace/request", {
            token: renter.token,
            body: {
              ram_gb: 16,
              vram_gb: 8,
              duration_sec: 3600,
              max_price_per_gb_sec: 0.000001,
              prefer_local: true,
              max_distance_km: 100,
              client_lat: 52.52,
              client_lng: 13.405,
            },
          }),
        status: 200,
      },
    ];
    for (const row of table) {
      const r = await row.call();
      expect(r.status, `${row.what}: ${JSON.stringify(r.body)}`).toBe(row.status);
    }
    const browse = await api("GET", `/api/marketplace?region=${region}&client_lat=52.52&client_lng=13.405`);
    expect(browse.body.offers[0]).toMatchObject({ node_id: node.id, estimated_latency_ms: 0.8, uptime_score: expect.any(Number) });
    const match = await api("POST", "/api/marketplace/request", {
      token: renter.token,
      body: { ram_gb: 16, vram_gb: 8, duration_sec: 3600, client_lat: 52.52, client_lng: 13.405 },
    });
    expect(match.body.matches[0]).toMatchObject({ node_id: node.id, estimated_latency_ms: 0.8 });

    const created = await api("POST", "/api/contracts/create", {
      token: renter.token,
      body: { node_id: node.id, ram_gb: 16, vram_gb: 8, duration_sec: 3600 },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const settled = await api("POST", `/api/contracts/${created.body.contract.id}/settle`, { token: renter.token, body: {} });
    expect(settled.status, JSON.stringify(settled.body)).toBe(200);

    // Node views carry last_heartbeat for everyone who may see the node.
    const got = await api("GET", `/api/nodes/${node.id}`, { token: p.token });
    expect(got.body.node.last_heartbeat).toBe(got.body.node.last_heartbeat_at);
    expect(got.body.node.last_heartbeat).not.toBeNull();
  });

  it("keeps at most 3 decimals of latency and says what is wrong with a present value", async () => {
    const p = await register("provider");
    const ok = await api("POST", "/api/nodes/register", {
      token: p.token,
      body: { ...seedNode, region: "eu-dec", base_latency_ms: 12.345 },
    });
    expect(ok.status).toBe(201);
    expect(ok.body.node.base_latency_ms).toBe(12.345);

    const tooPrecise = await api("POST", "/api/nodes/register", { token: p.token, body: { ...seedNode, base_latency_ms: 0.8001 } });
    expectError(tooPrecise, 400, "validation_failed");
    expect(tooPrecise.body.error.message).toBe("base_latency_ms must be a number with at most 3 decimals");

    // A present value of the wrong type is named as such, never "is required".
    const wrongType = await api("POST", "/api/nodes/register", {
      token: p.token,
      body: { ...seedNode, base_latency_ms: "0.8", total_ram_gb: 1.5 },
    });
    expectError(wrongType, 400, "validation_failed");
    const byField = Object.fromEntries(wrongType.body.error.details.map((d: { field: string; message: string }) => [d.field, d.message]));
    expect(byField).toMatchObject({ base_latency_ms: "must be a number", total_ram_gb: "must be an integer" });
    expect(JSON.stringify(wrongType.body)).not.toContain("is required");

    // An absent one is.
    const { base_latency_ms: _, ...missing } = seedNode;
    const absent = await api("POST", "/api/nodes/register", { token: p.token, body: missing });
    expect(absent.body.error.message).toBe("base_latency_ms is required");
    // A null is present too.
    const nul = await api("POST", "/api/nodes/register", { token: p.token, body: { ...seedNode, base_latency_ms: null } });
    expect(nul.body.error.message).toBe("base_latency_ms must be a number");

    // PUT takes the same decimals.
    const upd = await api("PUT", `/api/nodes/${ok.body.node_id}`, { token: p.token, body: { base_latency_ms: 0.25 } });
    expect(upd.status).toBe(200);
    expect(upd.body.node.base_latency_ms).toBe(0.25);
  });

  it("a new node's uptime_score is 99.0 until it has history", async () => {
    const p = await register("provider");
    const r = await api("POST", "/api/nodes/register", { token: p.token, body: { ...seedNode, region: "eu-new" } });
    expect(r.body.node.uptime_score).toBe(99);
    const listed = await api("GET", `/api/clusters/eu-new/nodes`);
    expect(listed.body.nodes[0].uptime_score).toBe(99);
  });
});
