// The worker's side of the data plane: node endpoints, ready/reject, the ready timeout, the push
// channel to the node's agent, the lease URL and the agent's lease reports.
import { describe, expect, it } from "vitest";
import { runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { api, credit, env, expectError, ready, register, registerNode, type Account } from "../../test/helpers";
import { clientRow, ledgerOf } from "../../test/money";
import { eq } from "drizzle-orm";
import { createDb } from "../db/client";
import { contracts } from "../db/schema";
import { failOver } from "../contracts/lifecycle";
import { portsFor } from "../region/client";

const stub = (region: string) => env.REGION_CLUSTER.get(env.REGION_CLUSTER.idFromName(region));
const GB = 2 ** 30;

async function market(nodeInput: Record<string, unknown> = {}) {
  const p = await register("provider");
  const node = await registerNode(p, { total_ram_gb: 64, total_vram_gb: 0, price_per_gb_sec: 0.000001, ...nodeInput });
  const renter = await register("user");
  await credit(renter.id, 10);
  return { p, node, renter };
}

async function create(renter: Account, nodeId: string, ramGb = 8, durationSec = 600) {
  const r = await api("POST", "/api/contracts/create", {
    token: renter.token,
    body: { node_id: nodeId, ram_gb: ramGb, vram_gb: 0, duration_sec: durationSec },
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.contract as any;
}

const contract = async (a: Account, id: string) => (await api("GET", `/api/contracts/${id}`, { token: a.token })).body.contract;
/** Lets the next heartbeat through the per-node rate limit. */
const rewind = (nodeId: string) =>
  env.DB.prepare("UPDATE nodes SET last_heartbeat_at = last_heartbeat_at - 60000 WHERE id = ?").bind(nodeId).run();
const heartbeat = async (p: Account, nodeId: string, extra: Record<string, unknown> = {}) => {
  await rewind(nodeId);
  return api("POST", `/api/nodes/${nodeId}/heartbeat`, { token: p.token, body: { available_ram_gb: 64, available_vram_gb: 0, ...extra } });
};

/** Nothing moved for the renter: every hold was released in full and nothing was charged. */
async function expectNeverCharged(renter: Account, contractId: string) {
  const entries = await ledgerOf({ contractId });
  const sum = (kind: string) => entries.filter((e) => e.kind === kind).reduce((a, e) => a + e.amount_micro, 0);
  expect(sum("hold")).toBeLessThan(0);
  expect(sum("release")).toBe(-sum("hold"));
  expect(sum("charge")).toBe(0);
  expect(sum("provider_earning")).toBe(0);
  expect(await clientRow(renter.id)).toMatchObject({ balance_micro: 10_000_000, held_micro: 0 });
}

describe("node endpoint", () => {
  it("is stored from register, update and heartbeat, and shown only to the owner and admins", async () => {
    const { p, node, renter } = await market({ endpoint: "Node-1.Example.com:7379" });
    expect(node.endpoint).toBe("Node-1.Example.com:7379");
    expect((await api("GET", `/api/nodes/${node.id}`, { token: p.token })).body.node.endpoint).toBe("Node-1.Example.com:7379");

    const upd = await api("PUT", `/api/nodes/${node.id}`, { token: p.token, body: { endpoint: "[2001:db8::7]:7000" } });
    expect(upd.status, JSON.stringify(upd.body)).toBe(200);
    expect(upd.body.node.endpoint).toBe("[2001:db8::7]:7000");
    expect((await heartbeat(p, node.id, { endpoint: "203.0.113.9:7379" })).status).toBe(200);
    expect((await api("GET", `/api/nodes/${node.id}`, { token: p.token })).body.node.endpoint).toBe("203.0.113.9:7379");
    const mine = (await api("GET", `/api/nodes?mine=true`, { token: p.token })).body.nodes;
    expect(mine.find((n: any) => n.id === node.id).endpoint).toBe("203.0.113.9:7379");

    // Everyone else: the node, the lists, the region's nodes, the marketplace, the contract view.
    const other = await register("provider");
    for (const who of [renter, other]) {
      const one = await api("GET", `/api/nodes/${node.id}`, { token: who.token });
      expect(one.status).toBe(200);
      expect(one.body.node).not.toHaveProperty("endpoint");
      const list = await api("GET", `/api/nodes?region=${node.region}`, { token: who.token });
      expect(list.body.nodes.map((n: any) => n.id)).toEqual([node.id]);
      expect(JSON.stringify(list.body)).not.toContain("203.0.113.9");
    }
    const cluster = await api("GET", `/api/clusters/${node.region}/nodes`, { token: renter.token });
    expect(cluster.body.nodes).toHaveLength(1);
    expect(JSON.stringify(cluster.body)).not.toContain("203.0.113.9");
    const offers = await api("GET", `/api/marketplace?region=${node.region}`, { token: renter.token });
    expect(offers.body.offers).toHaveLength(1);
    expect(JSON.stringify(offers.body)).not.toContain("203.0.113.9");
    const k = await create(renter, node.id);
    expect(JSON.stringify((await api("GET", `/api/contracts/${k.id}`, { token: renter.token })).body)).not.toContain("203.0.113.9");
  });

  it("refuses what is not host:port", async () => {
    const p = await register("provider");
    const node = await registerNode(p);
    for (const bad of [
      "example.com",
      "example.com:0",
      "example.com:65536",
      "example.com:07379",
      "[::1:7379",
      "[zz::1]:7379",
      "999.1.1.1:7379",
      "a b.com:1",
      "-bad.com:1",
      ":7379",
      "host:port",
      "redis://h:1",
    ]) {
      const r = await api("PUT", `/api/nodes/${node.id}`, { token: p.token, body: { endpoint: bad } });
      expectError(r, 400, "validation_failed");
      expect(r.body.error.details[0].field, bad).toBe("endpoint");
    }
    for (const good of ["localhost:1", "10.0.0.1:65535", "[::1]:7379", "[::ffff:10.0.0.1]:7379", "my-host.lan:7379"]) {
      expect((await api("PUT", `/api/nodes/${node.id}`, { token: p.token, body: { endpoint: good } })).status, good).toBe(200);
    }
    expectError(
      await api("POST", `/api/nodes/${node.id}/heartbeat`, {
        token: p.token,
        body: { available_ram_gb: 1, available_vram_gb: 0, endpoint: "nope" },
      }),
      400,
      "validation_failed",
    );
  });
});

describe("ready", () => {
  it("makes a pending contract active with its term starting now; heartbeat delivery alone does not", async () => {
    const { p, node, renter } = await market();
    const k = await create(renter, node.id, 8, 600);
    const hb = await heartbeat(p, node.id);
    expect(hb.body.contracts).toEqual([{ id: k.id, ram_gb: 8, vram_gb: 0, end_time: null, status: "pending" }]);
    expect(await contract(renter, k.id)).toMatchObject({ status: "pending", start_time: null, end_time: null, accrued_cost_usd: 0 });

    const before = Date.now();
    const r = await api("POST", `/api/nodes/${node.id}/contracts/${k.id}/ready`, { token: p.token });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const start = Date.parse(r.body.contract.start_time);
    expect(r.body.contract.status).toBe("active");
    expect(start).toBeGreaterThanOrEqual(before);
    expect(start).toBeLessThanOrEqual(Date.now());
    expect(Date.parse(r.body.contract.end_time) - start).toBe(600_000);
    // The region object now expires it at that end.
    const held = (await stub(node.region).reservationsOf(node.region)).find((x) => x.contractId === k.id);
    expect(held).toMatchObject({ state: "held", endTime: Date.parse(r.body.contract.end_time) });

    // Twice: the same contract, the same term.
    const again = await api("POST", `/api/nodes/${node.id}/contracts/${k.id}/ready`, { token: p.token });
    expect(again.status).toBe(200);
    expect(again.body.contract).toMatchObject({
      status: "active",
      start_time: r.body.contract.start_time,
      end_time: r.body.contract.end_time,
    });
    expect((await heartbeat(p, node.id)).body.contracts).toEqual([
      { id: k.id, ram_gb: 8, vram_gb: 0, end_time: r.body.contract.end_time, status: "active" },
    ]);
  });

  it("belongs to the node's owner, for the node's own contracts, while pending", async () => {
    const { p, node, renter } = await market();
    const k = await create(renter, node.id);
    const other = await register("provider");
    expectError(await api("POST", `/api/nodes/${node.id}/contracts/${k.id}/ready`, { token: other.token }), 403, "forbidden");
    expectError(await api("POST", `/api/nodes/${node.id}/contracts/${k.id}/ready`, { token: renter.token }), 403, "forbidden");
    expectError(await api("POST", `/api/nodes/${node.id}/contracts/${k.id}/ready`), 401, "unauthenticated");
    const second = await registerNode(p, { region: node.region });
    expectError(await api("POST", `/api/nodes/${second.id}/contracts/${k.id}/ready`, { token: p.token }), 404, "not_found");
    expectError(await api("POST", `/api/nodes/${node.id}/contracts/${crypto.randomUUID()}/ready`, { token: p.token }), 404, "not_found");
    expectError(await api("POST", `/api/nodes/${node.id}/contracts/not-a-uuid/ready`, { token: p.token }), 400, "validation_failed");
    expect((await contract(renter, k.id)).status).toBe("pending");

    expect((await api("POST", `/api/contracts/${k.id}/cancel`, { token: renter.token })).status).toBe(200);
    expectError(await api("POST", `/api/nodes/${node.id}/contracts/${k.id}/ready`, { token: p.token }), 409, "conflict");
    expect((await contract(renter, k.id)).status).toBe("cancelled");
  });

  it("needs the node's endpoint first: a renter never pays for a lease they cannot reach", async () => {
    const p = await register("provider");
    const renter = await register("user");
    await credit(renter.id, 10);
    const r = await api("POST", "/api/nodes/register", {
      token: p.token,
      body: {
        node_type: "mist_node",
        name: "no-endpoint",
        region: "ne-" + crypto.randomUUID().slice(0, 6),
        total_ram_gb: 8,
        total_vram_gb: 0,
        bandwidth_mbps: 100,
        base_latency_ms: 5,
        price_per_gb_sec: 0.000001,
      },
    });
    expect(r.body.node.endpoint).toBeNull();
    const k = await create(renter, r.body.node_id, 1, 60);
    expectError(await api("POST", `/api/nodes/${r.body.node_id}/contracts/${k.id}/ready`, { token: p.token }), 409, "conflict");
    expect((await contract(renter, k.id)).status).toBe("pending");
    await heartbeat(p, r.body.node_id, { available_ram_gb: 8, endpoint: "127.0.0.1:7000" });
    expect((await api("POST", `/api/nodes/${r.body.node_id}/contracts/${k.id}/ready`, { token: p.token })).body.contract.status).toBe(
      "active",
    );
  });
});

describe("reject and the ready timeout", () => {
  it("reject fails a pending contract over to another node, never charged, capacity released", async () => {
    const p = await register("provider");
    const region = "rj-" + crypto.randomUUID().slice(0, 6);
    const a = await registerNode(p, { region, latitude: 50, longitude: 8, total_ram_gb: 32, total_vram_gb: 0 });
    const b = await registerNode(p, { region, latitude: 50.1, longitude: 8.1, total_ram_gb: 32, total_vram_gb: 0 });
    const renter = await register("user");
    await credit(renter.id, 10);
    const k = await create(renter, a.id, 16, 600);
    expect((await stub(region).getNode(region, a.id))!.heldRamGb).toBe(16);

    const r = await api("POST", `/api/nodes/${a.id}/contracts/${k.id}/reject`, { token: p.token, body: { reason: "out of memory" } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.contract).toMatchObject({
      id: k.id,
      status: "failed",
      end_reason: "rejected by the node: out of memory",
      total_cost_usd: 0,
      charged_usd: 0,
      start_time: null,
    });
    expect((await stub(region).getNode(region, a.id))!.heldRamGb).toBe(0);
    const next = await contract(renter, r.body.contract.failed_over_to);
    expect(next).toMatchObject({ node_id: b.id, status: "pending", ram_gb: 16, duration_sec: 600, failed_over_from: k.id });
    // The original was never charged; only the replacement's hold remains.
    const entries = await ledgerOf({ contractId: k.id });
    expect(entries.filter((e) => e.kind === "charge").reduce((s, e) => s + e.amount_micro, 0)).toBe(0);
    expect(entries.filter((e) => e.kind === "release").reduce((s, e) => s + e.amount_micro, 0)).toBe(9_600);
    expect(await clientRow(renter.id)).toMatchObject({ balance_micro: 10_000_000, held_micro: 9_600 });

    // Again: the same failed contract. Without a body, too.
    const again = await api("POST", `/api/nodes/${a.id}/contracts/${k.id}/reject`, { token: p.token });
    expect(again.status).toBe(200);
    expect(again.body.contract).toMatchObject({ id: k.id, status: "failed", failed_over_to: next.id });
    expectError(
      await api("POST", `/api/nodes/${a.id}/contracts/${k.id}/reject`, { token: (await register("provider")).token }),
      403,
      "forbidden",
    );
    expectError(
      await api("POST", `/api/nodes/${a.id}/contracts/${k.id}/reject`, { token: p.token, body: { reason: 5 } }),
      400,
      "validation_failed",
    );
  });

  it("reject without another node ends it failed; the renter gets every cent back", async () => {
    const { p, node, renter } = await market();
    const k = await create(renter, node.id, 8, 600);
    const r = await api("POST", `/api/nodes/${node.id}/contracts/${k.id}/reject`, { token: p.token });
    expect(r.body.contract).toMatchObject({ status: "failed", failed_over_to: null, end_reason: "rejected by the node" });
    await expectNeverCharged(renter, k.id);
    expect((await heartbeat(p, node.id)).body.contracts).toEqual([]);
    // A completed contract cannot be rejected.
    const done = await create(renter, node.id, 1, 60);
    await ready(p, node.id, done.id);
    await api("POST", `/api/contracts/${done.id}/settle`, { token: renter.token });
    expectError(await api("POST", `/api/nodes/${node.id}/contracts/${done.id}/reject`, { token: p.token }), 409, "conflict");
  });

  it("a heartbeat may reject up to 1,000 contracts at once (unknown ids are ignored)", async () => {
    const { p, node, renter } = await market();
    const k = await create(renter, node.id, 8, 600);
    const ids = [...Array.from({ length: 999 }, () => crypto.randomUUID()), k.id];
    const hb = await heartbeat(p, node.id, { rejected_contracts: ids });
    expect(hb.status, JSON.stringify(hb.body)).toBe(200);
    expect(hb.body.contracts).toEqual([]);
    expect(await contract(renter, k.id)).toMatchObject({ status: "failed", end_reason: "rejected by the node" });
    await expectNeverCharged(renter, k.id);
  });

  it("the region's alarm fails over a contract not made ready within LEASE_READY_TIMEOUT_SEC, never charged", async () => {
    const { p, node, renter } = await market();
    const late = await create(renter, node.id, 8, 600);
    const fresh = await create(renter, node.id, 4, 600);
    // `late` was created 61 s ago (the default timeout is 60 s); `fresh` just now.
    await env.DB.prepare("UPDATE contracts SET created_at = created_at - 61000 WHERE id = ?").bind(late.id).run();
    expect(await runDurableObjectAlarm(stub(node.region))).toBe(true);
    expect(await contract(renter, late.id)).toMatchObject({
      status: "failed",
      end_reason: "not made ready by the node within 60 s",
      start_time: null,
      total_cost_usd: 0,
      failed_over_to: null,
    });
    expect(await contract(renter, fresh.id)).toMatchObject({ status: "pending" });
    expect((await stub(node.region).getNode(node.region, node.id))!.heldRamGb).toBe(4);
    expectError(await api("POST", `/api/nodes/${node.id}/contracts/${late.id}/ready`, { token: p.token }), 409, "conflict");
    const entries = await ledgerOf({ contractId: late.id });
    expect(entries.filter((e) => e.kind === "charge").reduce((s, e) => s + e.amount_micro, 0)).toBe(0);
    expect(entries.filter((e) => e.kind === "release").reduce((s, e) => s + e.amount_micro, 0)).toBe(4_800);

    // A contract made ready before the sweep runs is not touched by it, however old.
    await ready(p, node.id, fresh.id);
    await env.DB.prepare("UPDATE contracts SET created_at = created_at - 3600000 WHERE id = ?").bind(fresh.id).run();
    await runDurableObjectAlarm(stub(node.region));
    expect((await contract(renter, fresh.id)).status).toBe("active");
  });
});

describe("a ready racing the timeout sweep", () => {
  it("wins: the sweep ends a contract only while it is still pending", async () => {
    const { p, node, renter } = await market();
    const k = await create(renter, node.id, 8, 600);
    // The sweep read the contract while it was pending, then the node's ready landed.
    const stale = await createDb(env.DB).select().from(contracts).where(eq(contracts.id, k.id)).get();
    await ready(p, node.id, k.id);
    const after = await failOver(portsFor(env), stale!, "not made ready by the node within 60 s", Date.now(), { onlyPending: true });
    expect(after).toMatchObject({ status: "active", endedAt: null });
    expect(await contract(renter, k.id)).toMatchObject({ status: "active", ended_at: null });
    expect((await stub(node.region).getNode(node.region, node.id))!.heldRamGb).toBe(8);
  });
});

/** A WebSocket to /ws/nodes/{id} and the messages it received. */
async function connect(nodeId: string, headers: Record<string, string>) {
  const res = await SELF.fetch(`https://mnemo.test/ws/nodes/${nodeId}`, { headers: { upgrade: "websocket", ...headers } });
  if (res.status !== 101) return { res, messages: [] as any[], ws: null };
  const ws = res.webSocket!;
  const messages: any[] = [];
  ws.addEventListener("message", (m) => {
    messages.push(JSON.parse(m.data as string));
  });
  ws.accept();
  return { res, messages, ws };
}

async function until(what: string, ok: () => boolean, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The latest contract list a socket received (pings may come in between). */
const lists = (messages: any[]) => messages.filter((m) => m.type === "contracts").map((m) => m.data.contracts);
const latest = (messages: any[]) => lists(messages).at(-1) ?? [];

const apiKey = async (a: Account) =>
  (await api("POST", "/api/auth/api-keys", { token: a.token, body: { name: "agent" } })).body.api_key as string;

describe("the push channel", () => {
  it("sends the contract list on open and again on create, ready, extend and settle", async () => {
    const { p, node, renter } = await market();
    const key = await apiKey(p);
    const { res, messages, ws } = await connect(node.id, { "x-api-key": key });
    expect(res.status).toBe(101);
    await until("the first list", () => lists(messages).length >= 1);
    expect(messages.find((m) => m.type === "contracts")).toEqual({ type: "contracts", data: { contracts: [] } });
    const last = () => latest(messages);

    const k = await create(renter, node.id, 8, 600);
    await until("the new contract", () => last().some((c: any) => c.id === k.id));
    expect(last()).toEqual([{ id: k.id, ram_gb: 8, vram_gb: 0, end_time: null, status: "pending" }]);

    const active = await ready(p, node.id, k.id);
    await until("the active contract", () => last()[0]?.status === "active");
    expect(last()).toEqual([{ id: k.id, ram_gb: 8, vram_gb: 0, end_time: active.end_time, status: "active" }]);

    const ext = await api("POST", `/api/contracts/${k.id}/extend`, { token: renter.token, body: { additional_sec: 60 } });
    await until("the later end", () => last()[0]?.end_time === ext.body.contract.end_time);
    expect(Date.parse(ext.body.contract.end_time) - Date.parse(active.end_time)).toBe(60_000);

    const count = lists(messages).length;
    await api("POST", `/api/contracts/${k.id}/settle`, { token: renter.token });
    await until("the list without it", () => lists(messages).length > count && last().length === 0);
    expect(messages.every((m) => m.type === "contracts" || m.type === "ping")).toBe(true); // no market_update noise for agents
    // The region's clock pings agents (about once a minute) so a dead connection is noticed.
    const reset = (o: { lastNodePing: number }) => {
      o.lastNodePing = 0;
    };
    await runInDurableObject(stub(node.region) as unknown as DurableObjectStub, reset as never);
    const pings = messages.filter((m) => m.type === "ping").length;
    await runDurableObjectAlarm(stub(node.region));
    await until("a ping", () => messages.filter((m) => m.type === "ping").length > pings);
    ws!.close();
  });

  it("tells the replacement's node at once when a contract fails over", async () => {
    const p = await register("provider");
    const region = "px-" + crypto.randomUUID().slice(0, 6);
    const a = await registerNode(p, { region, latitude: 50, longitude: 8, total_ram_gb: 32, total_vram_gb: 0 });
    const b = await registerNode(p, { region, latitude: 50.1, longitude: 8.1, total_ram_gb: 32, total_vram_gb: 0 });
    const renter = await register("user");
    await credit(renter.id, 10);
    const key = await apiKey(p);
    const toA = await connect(a.id, { "x-api-key": key });
    const toB = await connect(b.id, { "x-api-key": key });
    await until("both first lists", () => lists(toA.messages).length >= 1 && lists(toB.messages).length >= 1);
    const k = await create(renter, a.id, 16, 600);
    await until("delivery to A", () => latest(toA.messages).length === 1);
    const r = await api("POST", `/api/nodes/${a.id}/contracts/${k.id}/reject`, { token: p.token });
    const replacement = r.body.contract.failed_over_to;
    await until("A's empty list", () => latest(toA.messages).length === 0);
    await until("delivery to B", () => latest(toB.messages).some((c: any) => c.id === replacement));
    expect(lists(toB.messages).some((l) => l.some((c: any) => c.id === k.id))).toBe(false);
    toA.ws!.close();
    toB.ws!.close();
  });

  it("admits only the node's owner, by API key in a header", async () => {
    const { p, node } = await market();
    const key = await apiKey(p);
    expectError(await api("GET", `/ws/nodes/${node.id}`, { headers: { upgrade: "websocket" } }), 401, "unauthenticated");
    expectError(
      await api("GET", `/ws/nodes/${node.id}`, { headers: { upgrade: "websocket", "x-api-key": "mnemo_" + "x".repeat(40) } }),
      401,
      "unauthenticated",
    );
    expectError(await api("GET", `/ws/nodes/${node.id}?api_key=${key}`, { headers: { upgrade: "websocket" } }), 401, "unauthenticated");
    const other = await register("provider");
    expectError(
      await api("GET", `/ws/nodes/${node.id}`, { headers: { upgrade: "websocket", "x-api-key": await apiKey(other) } }),
      403,
      "forbidden",
    );
    expectError(
      await api("GET", `/ws/nodes/${crypto.randomUUID()}`, { headers: { upgrade: "websocket", "x-api-key": key } }),
      404,
      "not_found",
    );
    expectError(await api("GET", `/ws/nodes/${node.id}`, { headers: { "x-api-key": key } }), 400, "validation_failed");
    // A revoked key stops working at once.
    const keys = (await api("GET", "/api/auth/api-keys", { token: p.token })).body.api_keys;
    await api("DELETE", `/api/auth/api-keys/${keys[0].id}`, { token: p.token });
    expectError(await api("GET", `/ws/nodes/${node.id}`, { headers: { upgrade: "websocket", "x-api-key": key } }), 401, "unauthenticated");
  });
});

describe("the OpenAPI document", () => {
  it("describes ready, reject, the lease's URL fields, the lease reports and the contract's lease fields", async () => {
    const doc = (await api("GET", "/api/openapi.json")).body;
    expect(doc.paths["/api/nodes/{id}/contracts/{contract_id}/ready"].post.description).toMatch(/LEASE_READY_TIMEOUT_SEC/);
    expect(doc.paths["/api/nodes/{id}/contracts/{contract_id}/reject"].post).toBeTruthy();
    expect(Object.keys(doc.components.schemas.ContractLease.properties)).toEqual(
      expect.arrayContaining(["endpoint", "username", "password", "url", "protocol", "tls"]),
    );
    expect(Object.keys(doc.components.schemas.Contract.properties)).toEqual(
      expect.arrayContaining(["lease_receipt", "measured_egress_gb"]),
    );
    expect(doc.components.schemas.Heartbeat.properties).toHaveProperty("lease_reports");
    expect(doc.components.schemas.Heartbeat.properties).toHaveProperty("endpoint");
    expect(doc.info.description).toMatch(/\/ws\/nodes\/\{node_id\}/);
    expect(doc.info.description).toMatch(/LEASE_REPORT_WAIT_SEC/);
  });
});

describe("the lease for renters", () => {
  it("carries the endpoint, the credentials and a redis:// URL", async () => {
    const { p, node, renter } = await market({ endpoint: "10.1.2.3:7400" });
    const k = await create(renter, node.id, 2, 600);
    expectError(await api("GET", `/api/contracts/${k.id}/lease`, { token: renter.token }), 409, "conflict");
    await ready(p, node.id, k.id);
    const r = await api("GET", `/api/contracts/${k.id}/lease`, { token: renter.token });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({
      node_id: node.id,
      endpoint: "10.1.2.3:7400",
      username: k.id,
      password: r.body.lease_token,
      protocol: "resp",
      tls: false,
    });
    expect(r.body.url).toBe(`redis://${k.id}:${r.body.lease_token}@10.1.2.3:7400/0`);
    const url = new URL(r.body.url);
    expect([url.protocol, url.username, url.password, url.host, url.pathname]).toEqual([
      "redis:",
      k.id,
      r.body.lease_token,
      "10.1.2.3:7400",
      "/0",
    ]);
  });
});

describe("lease reports", () => {
  const report = (contractId: string, bytesOut: number, extra: Record<string, unknown> = {}) => ({
    contract_id: contractId,
    bytes_in: 1000,
    bytes_out: bytesOut,
    keys: 3,
    used_bytes: 4096,
    final: false,
    ...extra,
  });
  const digest = "ab".repeat(32);

  it("stores the latest counters, then the receipt, and shows them on the contract", async () => {
    const { p, node, renter } = await market();
    const k = await create(renter, node.id, 2, 600);
    await ready(p, node.id, k.id);
    expect(await contract(renter, k.id)).toMatchObject({ lease_receipt: null, measured_egress_gb: null });

    // Another node's contract and an unknown id are ignored, not errors.
    const elsewhere = await market();
    const theirs = await create(elsewhere.renter, elsewhere.node.id, 1, 60);
    const hb = await heartbeat(p, node.id, {
      lease_reports: [report(k.id, GB / 2), report(theirs.id, 5 * GB), report(crypto.randomUUID(), 1)],
    });
    expect(hb.status, JSON.stringify(hb.body)).toBe(200);
    expect(await contract(renter, k.id)).toMatchObject({ lease_receipt: null, measured_egress_gb: 0.5 });
    expect(await contract(elsewhere.renter, theirs.id)).toMatchObject({ measured_egress_gb: null });
    await heartbeat(p, node.id, { lease_reports: [report(k.id, 3 * GB + 1, { connections: 2 })] });
    expect((await contract(renter, k.id)).measured_egress_gb).toBe((3 * GB + 1) / GB);
    const listed = (await api("GET", `/api/contracts?node_id=${node.id}`, { token: p.token })).body.contracts;
    expect(listed.find((c: any) => c.id === k.id).measured_egress_gb).toBe((3 * GB + 1) / GB);

    const wiped = "2026-11-22T04:00:00.000Z";
    await heartbeat(p, node.id, {
      lease_reports: [report(k.id, 4 * GB, { final: true, digest, wiped_at: wiped, keys: 0, used_bytes: 0 })],
    });
    const receipt = { contract_id: k.id, bytes_in: 1000, bytes_out: 4 * GB, keys: 0, used_bytes: 0, digest, wiped_at: wiped };
    expect(await contract(renter, k.id)).toMatchObject({ lease_receipt: receipt, measured_egress_gb: 4 });
    // Later counters never replace the receipt.
    await heartbeat(p, node.id, { lease_reports: [report(k.id, 9 * GB)] });
    expect(await contract(renter, k.id)).toMatchObject({ lease_receipt: receipt, measured_egress_gb: 4 });
  });

  it("refuses malformed reports with 400, naming the field", async () => {
    const { p, node, renter } = await market();
    const k = await create(renter, node.id, 1, 60);
    const bad: [unknown, string][] = [
      [[report(k.id, -1)], "lease_reports.0.bytes_out"],
      [[report(k.id, 1.5)], "lease_reports.0.bytes_out"],
      [[report(k.id, 1, { final: true, wiped_at: "2026-11-22T04:00:00Z" })], "lease_reports.0.final"],
      [[report(k.id, 1, { final: true, digest: digest.toUpperCase(), wiped_at: "2026-11-22T04:00:00Z" })], "lease_reports.0.digest"],
      [[report(k.id, 1, { final: true, digest, wiped_at: "yesterday" })], "lease_reports.0.wiped_at"],
      [[report("nope", 1)], "lease_reports.0.contract_id"],
      [Array.from({ length: 1001 }, () => report(k.id, 1)), "lease_reports"],
      ["all of them", "lease_reports"],
    ];
    for (const [reports, field] of bad) {
      await rewind(node.id);
      const r = await api("POST", `/api/nodes/${node.id}/heartbeat`, {
        token: p.token,
        body: { available_ram_gb: 64, available_vram_gb: 0, lease_reports: reports },
      });
      expectError(r, 400, "validation_failed");
      expect(r.body.error.details.map((d: any) => d.field)).toContain(field);
    }
    // 1,000 entries are fine.
    const ok = await heartbeat(p, node.id, {
      lease_reports: Array.from({ length: 1000 }, (_, i) => report(i === 999 ? k.id : crypto.randomUUID(), i)),
    });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect((await contract(renter, k.id)).measured_egress_gb).toBe(999 / GB);
  });
});
