import { describe, expect, it } from "vitest";
import { listDurableObjectIds } from "cloudflare:test";
import { api, env, expectError, register, registerNode } from "../../test/helpers";

/** Whether the region's Durable Object has ever been created (it writes storage on first use). */
async function objectExists(region: string): Promise<boolean> {
  const id = env.REGION_CLUSTER.idFromName(region).toString();
  return (await listDurableObjectIds(env.REGION_CLUSTER)).some((x) => x.toString() === id);
}

describe("unknown regions conjure nothing", () => {
  it("404s cluster paths, lists nothing for ?region=, and creates no Durable Object (so no alarm)", async () => {
    const ghost = "nowhere-" + crypto.randomUUID().slice(0, 8);
    const renter = await register("user");
    const provider = await register("provider");
    expectError(await api("GET", `/api/clusters/${ghost}/nodes`), 404, "not_found");
    expectError(await api("GET", `/api/clusters/${ghost}/stats`), 404, "not_found");
    const browse = await api("GET", `/api/marketplace?region=${ghost}`);
    expect(browse.status).toBe(200);
    expect(browse.body).toEqual({ offers: [], total_count: 0 });
    const match = await api("POST", "/api/marketplace/request", {
      token: renter.token,
      body: { ram_gb: 1, vram_gb: 0, duration_sec: 60, region: ghost },
    });
    expect(match.status).toBe(200);
    expect(match.body).toMatchObject({ matches: [], total_candidates: 0 });
    const nodes = await api("GET", `/api/nodes?region=${ghost}`, { token: provider.token });
    expect(nodes.body).toEqual({ nodes: [], total_count: 0 });
    expectError(
      await api("PUT", "/api/auth/me/client", { token: renter.token, body: { default_region: ghost } }),
      400,
      "validation_failed",
    );
    const ws = await api("GET", `/ws/${renter.clientId}?region=${ghost}&token=${renter.token}`, { headers: { upgrade: "websocket" } });
    expectError(ws, 404, "not_found");
    expect(await objectExists(ghost)).toBe(false);
    expect(await env.DB.prepare("SELECT 1 FROM clusters WHERE region = ?").bind(ghost).first()).toBeNull();

    // The first node in a region makes it exist, with its object.
    await registerNode(provider, { region: ghost });
    expect(await objectExists(ghost)).toBe(true);
    expect((await api("GET", `/api/clusters/${ghost}/nodes`)).body.total_count).toBe(1);
    expect((await api("GET", `/api/marketplace?region=${ghost}`)).body.total_count).toBe(1);
    expect((await api("PUT", "/api/auth/me/client", { token: renter.token, body: { default_region: ghost } })).status).toBe(200);
  });

  it("validates region names everywhere with one documented pattern", async () => {
    const p = await register("provider");
    const bad = ["EU-West", "eu west", "-eu", "eu_west", "a".repeat(65), "eu%2Fwest", "%C3%A9u"];
    for (const name of bad) {
      const reg = await api("POST", "/api/nodes/register", {
        token: p.token,
        body: {
          node_type: "datacenter",
          name: "x",
          region: decodeURIComponent(name),
          total_ram_gb: 1,
          total_vram_gb: 0,
          bandwidth_mbps: 1,
          base_latency_ms: 1,
          price_per_gb_sec: 0.000001,
        },
      });
      expectError(reg, 400, "validation_failed");
      expect(reg.body.error.details[0].field).toBe("region");
      expectError(await api("GET", `/api/clusters/${name}/nodes`), 400, "validation_failed");
      expectError(await api("GET", `/api/marketplace?region=${name}`), 400, "validation_failed");
      expectError(await api("GET", `/api/nodes?region=${name}`, { token: p.token }), 400, "validation_failed");
      expectError(await api("GET", `/api/analytics/market/pricing?region=${name}`), 400, "validation_failed");
    }
    const doc = await api("GET", "/api/openapi.json");
    expect(doc.body.components.schemas.RegisterNode.properties.region.pattern).toBe("^[a-z0-9][a-z0-9-]{0,63}$");
  });

  it("the migration backfilled regions of nodes registered before it (every node's region is a known region)", async () => {
    const orphans = await env.DB.prepare("SELECT COUNT(*) AS n FROM nodes WHERE region NOT IN (SELECT region FROM clusters)").first<{
      n: number;
    }>();
    expect(orphans!.n).toBe(0);
  });
});
