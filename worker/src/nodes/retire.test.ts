// API.md, Nodes: DELETE retires a node — status offline, no longer matched, its contracts fail
// over — and its heartbeats answer 410 `gone` from then on.
import { describe, expect, it } from "vitest";
import { runDurableObjectAlarm } from "cloudflare:test";
import { api, env, expectError, registerNode } from "../../test/helpers";
import { contractRow, createContract, heartbeat, market, settled } from "../../test/money";

describe("retired nodes", () => {
  it("DELETE retires: offline, unmatched, contracts failed over; heartbeats are 410 gone; it never comes back", async () => {
    const s = await market(10, { total_ram_gb: 16, total_vram_gb: 0, price_per_gb_sec: 0.000001 });
    const spare = await registerNode(s.provider, { region: s.node.region, total_ram_gb: 16, total_vram_gb: 0, price_per_gb_sec: 0.000002 });
    const k = await createContract(s, { ram_gb: 4, vram_gb: 0, duration_sec: 600 });
    await heartbeat(s);

    const del = await api("DELETE", `/api/nodes/${s.node.id}`, { token: s.provider.token });
    expect(del.status, JSON.stringify(del.body)).toBe(200);
    expect(del.body.node).toMatchObject({ id: s.node.id, status: "offline", available_ram_gb: 0 });
    const failed = await contractRow(k.id);
    expect(failed).toMatchObject({ status: "failed", end_reason: "node withdrawn by its provider" });
    expect((await contractRow(failed.failed_over_to)).node_id).toBe(spare.id);
    await settled(k.id);

    // Heartbeats are refused for good, even past the rate limit.
    await env.DB.prepare(`UPDATE nodes SET last_heartbeat_at = last_heartbeat_at - 600000 WHERE id = ?`).bind(s.node.id).run();
    const hb = await api("POST", `/api/nodes/${s.node.id}/heartbeat`, {
      token: s.provider.token,
      body: { available_ram_gb: 16, available_vram_gb: 0 },
    });
    expectError(hb, 410, "gone");
    expect((await api("GET", `/api/nodes/${s.node.id}`, { token: s.provider.token })).body.node.status).toBe("offline");
    expectError(await api("PUT", `/api/nodes/${s.node.id}`, { token: s.provider.token, body: { status: "active" } }), 409, "conflict");

    // Not matched, not offered, not rentable.
    const match = await api("POST", "/api/marketplace/request", {
      token: s.renter.token,
      body: { ram_gb: 1, vram_gb: 0, duration_sec: 600, region: s.node.region },
    });
    expect(match.body.matches.map((m: any) => m.node_id)).not.toContain(s.node.id);
    expectError(
      await api("POST", "/api/contracts/create", {
        token: s.renter.token,
        body: { node_id: s.node.id, ram_gb: 1, vram_gb: 0, duration_sec: 600 },
      }),
      409,
      "insufficient_capacity",
    );

    // Idempotent, and the region's clock leaves it retired.
    const again = await api("DELETE", `/api/nodes/${s.node.id}`, { token: s.provider.token });
    expect(again.status).toBe(200);
    expect(again.body.node.status).toBe("offline");
    await runDurableObjectAlarm(env.REGION_CLUSTER.get(env.REGION_CLUSTER.idFromName(s.node.region)));
    expect(await env.DB.prepare(`SELECT status, retired_at FROM nodes WHERE id = ?`).bind(s.node.id).first<any>()).toMatchObject({
      status: "offline",
      retired_at: expect.any(Number),
    });
  });

  it("only the owner may retire a node", async () => {
    const s = await market(0);
    const other = await market(0);
    expectError(await api("DELETE", `/api/nodes/${s.node.id}`, { token: other.provider.token }), 403, "forbidden");
    expectError(
      await api("POST", `/api/nodes/${s.node.id}/heartbeat`, {
        token: other.provider.token,
        body: { available_ram_gb: 1, available_vram_gb: 0 },
      }),
      403,
      "forbidden",
    );
  });
});
