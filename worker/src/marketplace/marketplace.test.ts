import { describe, expect, it } from "vitest";
import { api, expectError, register, registerNode } from "../../test/helpers";

describe("browse", () => {
  it("lists only active nodes with free capacity, nearest first, with every filter", async () => {
    const p = await register("provider");
    const region = "mk-" + crypto.randomUUID().slice(0, 6);
    const paris = await registerNode(p, {
      region,
      name: "paris",
      latitude: 48.8566,
      longitude: 2.3522,
      node_type: "datacenter",
      total_ram_gb: 128,
      total_vram_gb: 0,
      price_per_gb_sec: 0.000002,
    });
    const lyon = await registerNode(p, {
      region,
      name: "lyon",
      latitude: 45.764,
      longitude: 4.8357,
      node_type: "mist_node",
      total_ram_gb: 16,
      total_vram_gb: 12,
      price_per_gb_sec: 0.000001,
    });
    const off = await registerNode(p, { region, name: "maint", latitude: 48.86, longitude: 2.35 });
    await api("PUT", `/api/nodes/${off.id}`, { token: p.token, body: { status: "maintenance" } });

    const all = await api("GET", `/api/marketplace?region=${region}&client_lat=48.8566&client_lng=2.3522`);
    expect(all.status).toBe(200);
    expect(all.body.total_count).toBe(2);
    expect(all.body.offers.map((o: any) => o.node_name)).toEqual(["paris", "lyon"]);
    expect(all.body.offers[0]).toMatchObject({
      node_id: paris.id,
      node_type: "datacenter",
      region,
      available_ram_gb: 128,
      available_vram_gb: 0,
      price_per_gb_sec: 0.000002,
      uptime_score: 99,
      distance_km: 0,
      estimated_latency_ms: 5,
    });
    // Paris → Lyon is ≈ 392 km by the haversine formula.
    expect(all.body.offers[1].distance_km).toBeGreaterThan(390);
    expect(all.body.offers[1].distance_km).toBeLessThan(394);
    expect(all.body.offers[1].estimated_latency_ms).toBe(5 + 4);

    const noCoords = await api("GET", `/api/marketplace?region=${region}`);
    expect(noCoords.body.offers.map((o: any) => o.node_name)).toEqual(["lyon", "paris"]); // cheapest first
    expect(noCoords.body.offers[0].distance_km).toBeNull();
    const q = (s: string) => api("GET", `/api/marketplace?region=${region}&${s}`).then((r) => r.body.offers.map((o: any) => o.node_name));
    expect(await q("node_type=mist_node")).toEqual(["lyon"]);
    expect(await q("min_ram_gb=100")).toEqual(["paris"]);
    expect(await q("min_vram_gb=1")).toEqual(["lyon"]);
    expect(await q("max_price_per_gb_sec=0.0000015")).toEqual(["lyon"]);
    expect(await q("min_uptime_score=99.5")).toEqual([]);
    expect(await q("min_uptime_score=99")).toEqual(["lyon", "paris"]);
    expect(await q("client_lat=48.8566&client_lng=2.3522&max_distance_km=100")).toEqual(["paris"]);
    expect(await q("limit=1&offset=1")).toEqual(["paris"]);
    expect((await api("GET", `/api/marketplace?region=${region}&limit=1`)).body.total_count).toBe(2);
    // Without a region every region is searched.
    const everywhere = await api("GET", `/api/marketplace?client_lat=45.764&client_lng=4.8357&max_distance_km=1`);
    expect(everywhere.body.offers.map((o: any) => o.node_id)).toContain(lyon.id);
  });

  it("rejects bad filters with 400", async () => {
    expectError(await api("GET", "/api/marketplace?node_type=cloud"), 400, "validation_failed");
    expectError(await api("GET", "/api/marketplace?client_lat=91&client_lng=0"), 400, "validation_failed");
    expectError(await api("GET", "/api/marketplace?client_lat=10"), 400, "validation_failed");
    expectError(await api("GET", "/api/marketplace?limit=0"), 400, "validation_failed");
    expectError(await api("GET", "/api/marketplace?max_price_per_gb_sec=abc"), 400, "validation_failed");
  });
});

describe("match", () => {
  it("ranks with the reference score, exactly as computed by hand", async () => {
    const p = await register("provider");
    const region = "score-" + crypto.randomUUID().slice(0, 6);
    // Client at (0, 0). A node at (0, 0.1): haversine = 6371 × 0.1 × π/180 = 11.11949266 km.
    const near = await registerNode(p, {
      region,
      name: "near",
      latitude: 0,
      longitude: 0.1,
      node_type: "mist_node",
      total_ram_gb: 40,
      total_vram_gb: 0,
      price_per_gb_sec: 0.000001,
    });
    const far = await registerNode(p, {
      region,
      name: "far",
      latitude: 0,
      longitude: 1,
      node_type: "datacenter",
      total_ram_gb: 400,
      total_vram_gb: 0,
      price_per_gb_sec: 0.000004,
    });
    const renter = await register("user");
    const r = await api("POST", "/api/marketplace/request", {
      token: renter.token,
      body: { ram_gb: 8, vram_gb: 0, duration_sec: 3600, region, client_lat: 0, client_lng: 0 },
    });
    expect(r.status).toBe(200);
    expect(r.body.total_candidates).toBe(2);
    expect(r.body.request_id).toMatch(/^[0-9a-f-]{36}$/);
    const [m1, m2] = r.body.matches;
    const d1 = (6371 * 0.1 * Math.PI) / 180;
    const d2 = (6371 * 1 * Math.PI) / 180;
    // near: proximity (100 − d1/10) × 3; price (1 − 1/4) × 50 = 37.5; reliability 99 × 0.5 = 49.5;
    // capacity min(30, 40/8 × 10) = 30; mist node 20.
    expect(m1.node_id).toBe(near.id);
    expect(m1.score_breakdown.proximity).toBeCloseTo((100 - d1 / 10) * 3, 9);
    expect(m1.score_breakdown).toMatchObject({ price: 37.5, reliability: 49.5, capacity: 30, node_type: 20 });
    expect(m1.match_score).toBeCloseTo((100 - d1 / 10) * 3 + 37.5 + 49.5 + 30 + 20, 9);
    // far: proximity (100 − 11.1195/10... for 111.19 km) × 3; price 0 (it is the highest price); no bonus.
    expect(m2.node_id).toBe(far.id);
    expect(m2.score_breakdown.proximity).toBeCloseTo((100 - d2 / 10) * 3, 9);
    expect(m2.score_breakdown).toMatchObject({ price: 0, reliability: 49.5, capacity: 30, node_type: 0 });
    // estimated_cost = 8 GB × 3600 s × price.
    expect(m1.estimated_cost).toBe(0.0288);
    expect(m2.estimated_cost).toBe(0.1152);
    expect(m1.distance_km).toBeCloseTo(d1, 9);
    expect(m1.estimated_latency_ms).toBe(5);

    // prefer_local false drops the ×3; an explicit max price changes the price score and filters.
    const flat = await api("POST", "/api/marketplace/request", {
      token: renter.token,
      body: {
        ram_gb: 8,
        vram_gb: 0,
        duration_sec: 3600,
        region,
        client_lat: 0,
        client_lng: 0,
        prefer_local: false,
        max_price_per_gb_sec: 0.000002,
      },
    });
    expect(flat.body.total_candidates).toBe(1);
    expect(flat.body.matches[0].score_breakdown.proximity).toBeCloseTo(100 - d1 / 10, 9);
    expect(flat.body.matches[0].score_breakdown.price).toBe(25);
  });

  it("uses the profile's coordinates when the body has none, and honours limit and hard filters", async () => {
    const p = await register("provider");
    const region = "prof-" + crypto.randomUUID().slice(0, 6);
    await registerNode(p, { region, latitude: 10, longitude: 10, total_ram_gb: 4, total_vram_gb: 0 });
    await registerNode(p, { region, latitude: 10, longitude: 10.5, total_ram_gb: 64, total_vram_gb: 16 });
    await registerNode(p, { region, latitude: 12, longitude: 10, total_ram_gb: 64, total_vram_gb: 16 });
    const renter = await register("user");
    await api("PUT", "/api/auth/me/client", { token: renter.token, body: { latitude: 10, longitude: 10 } });
    const r = await api("POST", "/api/marketplace/request", {
      token: renter.token,
      body: { ram_gb: 8, vram_gb: 8, duration_sec: 60, region, limit: 1, max_distance_km: 100 },
    });
    expect(r.body.total_candidates).toBe(1); // the small node lacks capacity, the third is ~222 km away
    expect(r.body.matches).toHaveLength(1);
    expect(r.body.matches[0].distance_km).toBeGreaterThan(50);
    expectError(
      await api("POST", "/api/marketplace/request", { token: renter.token, body: { ram_gb: 0, vram_gb: 0, duration_sec: 60 } }),
      400,
      "validation_failed",
    );
    expectError(
      await api("POST", "/api/marketplace/request", { token: renter.token, body: { ram_gb: 1, vram_gb: 0, duration_sec: 60, limit: 101 } }),
      400,
      "validation_failed",
    );
    expectError(
      await api("POST", "/api/marketplace/request", { body: { ram_gb: 1, vram_gb: 0, duration_sec: 60 } }),
      401,
      "unauthenticated",
    );
  });

  it("ranks across regions with one max price for all candidates", async () => {
    const p = await register("provider");
    const tag = crypto.randomUUID().slice(0, 6);
    const cheap = await registerNode(p, { region: `xa-${tag}`, total_ram_gb: 999, total_vram_gb: 0, price_per_gb_sec: 0.000001 });
    const dear = await registerNode(p, { region: `xb-${tag}`, total_ram_gb: 999, total_vram_gb: 0, price_per_gb_sec: 0.000002 });
    const renter = await register("user");
    const r = await api("POST", "/api/marketplace/request", {
      token: renter.token,
      body: { ram_gb: 998, vram_gb: 0, duration_sec: 60, limit: 100 },
    });
    const byId = Object.fromEntries(r.body.matches.map((m: any) => [m.node_id, m]));
    expect(byId[cheap.id]).toBeDefined();
    expect(byId[dear.id]).toBeDefined();
    const maxPrice = Math.max(...r.body.matches.map((m: any) => m.price_per_gb_sec));
    expect(byId[cheap.id].score_breakdown.price).toBeCloseTo((1 - 0.000001 / maxPrice) * 50, 9);
  });
});
