import { describe, expect, it } from "vitest";
import { SELF } from "cloudflare:test";
import { api, expectError, register, registerNode } from "../../test/helpers";

describe("operations", () => {
  it("answers /health with a database round trip", async () => {
    const r = await api("GET", "/health");
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: "ok", database: "ok" });
  });

  it("exposes Prometheus metrics: requests by route and status, latency histogram, contracts and nodes", async () => {
    const p = await register("provider");
    await registerNode(p);
    await api("GET", "/api/nodes/00000000-0000-4000-8000-000000000000", { token: p.token });
    const res = await SELF.fetch("https://mnemo.test/metrics");
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    expect(text).toMatch(/mnemo_http_requests_total\{method="POST",route="\/api\/nodes\/register",status="201"\} \d+/);
    expect(text).toMatch(/mnemo_http_requests_total\{method="GET",route="\/api\/nodes\/:id",status="404"\} \d+/);
    expect(text).toContain('mnemo_http_request_duration_ms_bucket{method="POST",route="/api/nodes/register",status="201",le="+Inf"}');
    expect(text).toMatch(/mnemo_nodes\{status="active"\} [1-9]\d*/);
    expect(text).toMatch(/mnemo_active_contracts \d+/);
    expect(text).toMatch(/mnemo_node_capacity_gb\{kind="ram"\} [1-9]\d*/);
  });

  it("serves the OpenAPI 3.1 document covering the contract, and the interactive reference", async () => {
    const doc = await api("GET", "/api/openapi.json");
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe("3.1.0");
    for (const path of [
      "/api/auth/register",
      "/api/auth/login",
      "/api/auth/me",
      "/api/auth/api-keys/{id}",
      "/api/nodes/register",
      "/api/nodes/{id}/heartbeat",
      "/api/marketplace",
      "/api/marketplace/request",
      "/api/contracts/create",
      "/api/contracts/{id}/settle",
      "/api/clusters",
      "/api/clusters/{region}/stats",
      "/api/billing/balance",
      "/api/billing/ledger/verify",
      "/api/admin/credits",
      "/health",
    ]) {
      expect(doc.body.paths[path], path).toBeDefined();
    }
    expect(doc.body.paths["/api/contracts/create"].post.responses["409"]).toBeDefined();
    expect(doc.body.components.securitySchemes.apiKey).toMatchObject({ type: "apiKey", name: "X-API-Key" });
    expect(doc.body.info.description).toContain("rounded **up**");
    const docs = await SELF.fetch("https://mnemo.test/docs");
    expect(docs.status).toBe(200);
    const html = await docs.text();
    expect(html).toContain("/api/openapi.json");
    expect(html).toContain("/vendor/swagger-ui/swagger-ui-bundle.js");
  });

  it("answers unknown API routes with the error envelope, never HTML", async () => {
    const r = await api("GET", "/api/nope");
    expectError(r, 404, "not_found");
    expect(r.headers.get("content-type")).toContain("application/json");
    expectError(await api("DELETE", "/api/marketplace"), 404, "not_found");
  });

  it("allows cross-origin browsers only from CORS_ORIGINS (none by default)", async () => {
    const res = await SELF.fetch("https://mnemo.test/api/marketplace", {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "GET" },
    });
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("clusters", () => {
  it("rolls up each region from its Durable Object, with node lists and stats", async () => {
    const p = await register("provider");
    const region = "cl-" + crypto.randomUUID().slice(0, 6);
    await registerNode(p, {
      region,
      node_type: "datacenter",
      latitude: 40,
      longitude: -3,
      total_ram_gb: 100,
      total_vram_gb: 20,
      price_per_gb_sec: 0.000001,
    });
    await registerNode(p, {
      region,
      node_type: "mist_node",
      latitude: 42,
      longitude: -1,
      total_ram_gb: 20,
      total_vram_gb: 8,
      price_per_gb_sec: 0.000003,
    });
    const list = await api("GET", "/api/clusters");
    const c = list.body.clusters.find((x: any) => x.region === region);
    expect(c).toEqual({
      region,
      center: { lat: 41, lng: -2 },
      total_nodes: 2,
      node_composition: { datacenter: 1, edge_cluster: 0, mist_node: 1 },
      total_ram_gb: 120,
      available_ram_gb: 120,
      total_vram_gb: 28,
      available_vram_gb: 28,
      avg_price_per_gb_sec: 0.000002,
    });
    const nodes = await api("GET", `/api/clusters/${region}/nodes`);
    expect(nodes.body.total_count).toBe(2);
    const stats = await api("GET", `/api/clusters/${region}/stats`);
    expect(stats.body).toMatchObject({
      region,
      utilization: { ram_pct: 0, vram_pct: 0 },
      contracts: { pending: 0, active: 0 },
      price_spread: { min: 0.000001, max: 0.000003, avg: 0.000002 },
      heartbeat_health: { nodes_by_status: { active: 2, maintenance: 0, offline: 0 } },
    });
    expectError(await api("GET", "/api/clusters/no-such-region/stats"), 404, "not_found");
  });
});
