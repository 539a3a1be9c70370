/**
 * The data plane end to end: the real agent process (its lease server, push channel and
 * heartbeats) against the real worker (`wrangler dev`), used by real Redis clients (ioredis and
 * redis-cli). Every test makes its own provider, renter, node and agent: no test depends on
 * another's state.
 */
import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loopbackConfig, runAgent, stopAgent, type AgentProcess } from "./helpers.ts";
import { api, type Json, startWorker, until, type Worker } from "./support/worker.ts";
import { rawConnect } from "./resp.ts";

const execFileP = promisify(execFile);
const ADMIN_EMAIL = "admin@dataplane-e2e.test";
const MIB = 1024 ** 2;
const GIB = 1024 ** 3;

let worker: Worker;
let adminToken: string;
const running: AgentProcess[] = [];
const clients: Array<{ disconnect: () => void }> = [];

const { ok } = api(() => worker.url);

interface Market {
  /** Each test's nodes are alone in their own region. */
  region: string;
  provider: Record<string, string>;
  renter: Record<string, string>;
  renterId: string;
  apiKey: string;
}

/** A fresh provider (with an API key) and a fresh renter with $100 of credit. */
async function market(tag: string): Promise<Market> {
  const suffix = `${tag}-${randomUUID().slice(0, 8)}`;
  const p = await ok("POST", "/api/auth/register", {
    email: `provider-${suffix}@dataplane.test`,
    password: "correct-horse-battery",
    role: "provider",
  });
  const key = await ok("POST", "/api/auth/api-keys", { name: "agent" }, { authorization: `Bearer ${p.access_token}` });
  const r = await ok("POST", "/api/auth/register", {
    email: `renter-${suffix}@dataplane.test`,
    password: "correct-horse-battery",
    role: "user",
  });
  await ok(
    "POST",
    "/api/admin/credits",
    { user_id: r.user.id, amount_usd: 100, reason: "dataplane e2e" },
    { authorization: `Bearer ${adminToken}` },
  );
  return {
    region: `dp-${suffix}`,
    provider: { "x-api-key": key.api_key },
    renter: { authorization: `Bearer ${r.access_token}` },
    renterId: r.user.id,
    apiKey: key.api_key,
  };
}

function agentConfig(m: Market, extra: Record<string, unknown> = {}): string {
  return loopbackConfig({
    api_url: worker.url,
    api_key: m.apiKey,
    region: m.region,
    name: `dataplane-${randomUUID().slice(0, 8)}`,
    reserve_ram_gb: 1,
    ...extra,
  });
}

function start(configPath: string): AgentProcess {
  const p = runAgent(["start", "--config", configPath, "--json"]);
  running.push(p);
  return p;
}

/** Starts an agent and waits until it serves leases, holds the push channel and has heartbeated once. */
async function serving(configPath: string): Promise<{ agent: AgentProcess; nodeId: string; endpoint: string }> {
  const agent = start(configPath);
  const ep = await agent.waitForEvent((e) => e.event === "endpoint", "the lease endpoint", 60_000);
  await agent.waitForEvent((e) => e.event === "push_connected", "the push channel", 30_000);
  await agent.waitForEvent((e) => e.event === "heartbeat", "a first heartbeat", 30_000);
  return { agent, nodeId: ep.node_id as string, endpoint: ep.endpoint as string };
}

async function rent(m: Market, nodeId: string, ramGb: number, durationSec = 300): Promise<string> {
  return (await ok("POST", "/api/contracts/create", { node_id: nodeId, ram_gb: ramGb, vram_gb: 0, duration_sec: durationSec }, m.renter))
    .contract.id;
}

async function activeLease(m: Market, contractId: string): Promise<Json> {
  await until(
    async () => (await ok("GET", `/api/contracts/${contractId}`, undefined, m.renter)).contract.status === "active",
    `contract ${contractId} active`,
  );
  return ok("GET", `/api/contracts/${contractId}/lease`, undefined, m.renter);
}

function redis(url: string): Redis {
  // No reconnects: a test must see a refused or closed connection, not a retry hiding it.
  const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  worker = await startWorker({
    HEARTBEAT_MIN_INTERVAL_SEC: "1",
    ADMIN_EMAILS: ADMIN_EMAIL,
    LEASE_REPORT_WAIT_SEC: "30",
    LEASE_READY_TIMEOUT_SEC: "60",
  });
  adminToken = (await ok("POST", "/api/auth/register", { email: ADMIN_EMAIL, password: "correct-horse-battery" })).access_token;
}, 180_000);

afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  // Drained (maintenance), so no later test's failover can land on a node left behind.
  await Promise.all(
    running.splice(0).map(async (p) => {
      p.kill("SIGTERM");
      const t = setTimeout(() => p.kill("SIGKILL"), 8000);
      await p.exited;
      clearTimeout(t);
    }),
  );
}, 30_000);

afterAll(async () => {
  await worker?.stop();
});

describe("leases served by the real agent", () => {
  it("a new contract arrives on the push channel, is made ready and active in under 2 s, and serves ioredis and redis-cli", async () => {
    const m = await market("push");
    // Heartbeats 10 minutes apart: after the first, only the push channel can deliver.
    const { agent, nodeId, endpoint } = await serving(agentConfig(m, { heartbeat_interval: 600 }));
    const beatsBefore = agent.events().filter((e) => e.event === "heartbeat").length;

    const t0 = performance.now();
    const id = await rent(m, nodeId, 1);
    const view = await until(
      async () => {
        const v = await ok("GET", `/api/contracts/${id}`, undefined, m.renter);
        return v.contract.status === "active" && v;
      },
      "the contract to become active",
      10_000,
      25,
    );
    const activeMs = performance.now() - t0;
    expect(activeMs).toBeLessThan(2000);
    expect(view.contract.start_time).not.toBeNull();
    const held = agent.events().find((e) => e.event === "contract_held" && e.contract_id === id)!;
    expect(held.source).toBe("push");
    expect(agent.events().filter((e) => e.event === "heartbeat").length).toBe(beatsBefore);

    const lease = await ok("GET", `/api/contracts/${id}/lease`, undefined, m.renter);
    expect(lease).toMatchObject({ endpoint, username: id, protocol: "resp", tls: false, node_id: nodeId });
    expect(lease.password).toBe(lease.lease_token);
    expect(lease.url).toBe(`redis://${id}:${lease.lease_token}@${endpoint}/0`);
    // The owner sees where the node serves.
    expect((await ok("GET", `/api/nodes/${nodeId}`, undefined, m.provider)).node.endpoint).toBe(endpoint);

    const c = redis(lease.url);
    await c.connect();
    expect(await c.set("greeting", "hello")).toBe("OK");
    expect(await c.get("greeting")).toBe("hello");
    const blob = randomBytes(MIB);
    expect(await c.set("blob", blob)).toBe("OK");
    expect((await c.getBuffer("blob"))!.equals(blob)).toBe(true);

    const cli = (...args: string[]) => execFileP("redis-cli", ["-u", lease.url, "--no-auth-warning", ...args], { timeout: 10_000 });
    expect((await cli("PING")).stdout.trim()).toBe("PONG");
    expect((await cli("SET", "from-cli", "42")).stdout.trim()).toBe("OK");
    expect((await cli("GET", "greeting")).stdout.trim()).toBe("hello");
    expect(await c.get("from-cli")).toBe("42");
  });

  it("two leases on one node are separate keyspaces with separate credentials", async () => {
    const m = await market("isolation");
    const { nodeId, endpoint } = await serving(agentConfig(m));
    const [a, b] = [await rent(m, nodeId, 1), await rent(m, nodeId, 1)];
    const [la, lb] = [await activeLease(m, a), await activeLease(m, b)];
    const ca = redis(la.url);
    const cb = redis(lb.url);
    await Promise.all([ca.connect(), cb.connect()]);
    await ca.set("shared-name", "from-a");
    expect(await cb.get("shared-name")).toBeNull();
    await cb.set("shared-name", "from-b");
    expect(await ca.get("shared-name")).toBe("from-a");
    expect(await ca.dbsize()).toBe(1);
    await cb.flushall();
    expect(await ca.get("shared-name")).toBe("from-a");

    // One lease's token never opens the other.
    const raw = await rawConnect(endpoint);
    expect(await raw.call("GET", "x")).toEqual({ error: "NOAUTH Authentication required." });
    expect(await raw.call("AUTH", b, la.lease_token)).toEqual({ error: "WRONGPASS invalid username-password pair or user is disabled." });
    expect(await raw.call("AUTH", b, lb.lease_token)).toBe("OK");
    expect(await raw.call("GET", "shared-name")).toBeNull();
    raw.destroy();
  });

  it("demo-only simulated VRAM: offered, labelled on the node, and a VRAM lease's quota includes it", async () => {
    const m = await market("vram");
    const { agent, nodeId } = await serving(agentConfig(m, { simulate_ram_gb: 4, simulate_vram_gb: 2, reserve_ram_gb: 0 }));
    expect(agent.events().find((e) => e.event === "start")!.msg).toMatch(
      /4 GB RAM \(SIMULATED, demo\).*2 GB VRAM SIMULATED with host memory \(demo\)/,
    );
    const { node } = await ok("GET", `/api/nodes/${nodeId}`, undefined, m.provider);
    expect(node).toMatchObject({ total_ram_gb: 4, total_vram_gb: 2 });
    expect(node.metadata.simulated).toMatchObject({ ram_gb: 4, vram_gb: 2 });
    const hb = agent.events().find((e) => e.event === "heartbeat")!;
    expect(hb).toMatchObject({ available_ram_gb: 4, available_vram_gb: 2 });

    const id = (await ok("POST", "/api/contracts/create", { node_id: nodeId, ram_gb: 1, vram_gb: 1, duration_sec: 300 }, m.renter)).contract
      .id;
    const lease = await activeLease(m, id);
    const c = redis(lease.url);
    await c.connect();
    expect(await c.config("GET", "maxmemory")).toEqual(["maxmemory", String(2 * GIB)]);

    // The lease counts against the offer exactly once: the agent reports what the machine can give
    // (4 + 2), the market takes the contract off it (3 + 1 left), and a heartbeat with the lease
    // held does not take it off a second time.
    await agent.waitFor(
      () => agent.events().some((e) => e.event === "heartbeat" && (e.contracts as string[]).includes(id)),
      "a heartbeat holding the lease",
    );
    const hb2 = agent
      .events()
      .filter((e) => e.event === "heartbeat" && (e.contracts as string[]).includes(id))
      .at(-1)!;
    expect(hb2).toMatchObject({ available_ram_gb: 4, available_vram_gb: 2, held_ram_gb: 1, held_vram_gb: 1 });
    expect((await ok("GET", `/api/nodes/${nodeId}`, undefined, m.provider)).node).toMatchObject({
      available_ram_gb: 3,
      available_vram_gb: 1,
    });
  });

  it("a contract the agent cannot hold beside what it already holds is rejected, never started, never charged", async () => {
    const m = await market("reject");
    // First run: offer 6 GB (simulated, so the test does not depend on this machine's free memory).
    const path = agentConfig(m, { simulate_ram_gb: 6, reserve_ram_gb: 0 });
    const first = await serving(path);
    await stopAgent(first.agent, "SIGKILL"); // no drain: the market still sees 6 GB on offer
    const a = await rent(m, first.nodeId, 2);
    const b = await rent(m, first.nodeId, 3);

    // Back with 4 GB: one of the two fits, the other (3 + 2 > 4) cannot.
    const cfg = JSON.parse((await import("node:fs")).readFileSync(path, "utf8"));
    writeFileSync(path, JSON.stringify({ ...cfg, simulate_ram_gb: 4 }));
    const second = start(path);
    const rejected = await second.waitForEvent((e) => e.event === "contract_rejected", "a rejection", 60_000);
    const refused = rejected.contract_id as string;
    const kept = refused === a ? b : a;
    expect([a, b]).toContain(refused);
    expect(rejected).toMatchObject({ reason: "no_capacity", offered_ram_gb: 4 - (kept === a ? 2 : 3) });
    expect(rejected.msg).toMatch(/^cannot hold contract .* only \d+ GB RAM, 0 GB VRAM free beyond the reserve and the leases held/);

    await activeLease(m, kept);
    const after = await until(async () => {
      const v = await ok("GET", `/api/contracts/${refused}`, undefined, m.renter);
      return v.contract.status !== "pending" && v;
    }, "the rejected contract to be failed over");
    expect(after.contract.status).not.toBe("active");
    expect(after.contract.start_time).toBeNull();
    expect(second.events().some((e) => e.event === "contract_held" && e.contract_id === refused)).toBe(false);
    // Never charged: whatever the ledger records for it (a hold and its release, a zero charge) nets
    // to nothing taken from the renter.
    const settledRefused = await until(
      async () => {
        const v = await ok("GET", `/api/contracts/${refused}`, undefined, m.renter);
        return v.contract.completed_at && v;
      },
      "the refused contract's settlement",
      60_000,
      500,
    );
    expect(Number(settledRefused.contract.total_cost_usd)).toBe(0);
    const ledger = await ok("GET", "/api/billing/ledger", undefined, m.renter);
    const charged = ledger.entries
      .filter((e: Json) => e.contract_id === refused && e.kind === "charge")
      .reduce((a: number, e: Json) => a + Math.abs(Number(e.amount_usd)), 0);
    expect(charged).toBe(0);
  });

  it("settle: connections close within 2 s, the token stops working, the receipt is on the contract and egress is what the node measured", async () => {
    const m = await market("settle");
    const { agent, nodeId, endpoint } = await serving(agentConfig(m, { egress_price_per_gb: 0.5 }));
    const id = await rent(m, nodeId, 1);
    const lease = await activeLease(m, id);
    const c = redis(lease.url);
    await c.connect();
    const value = randomBytes(MIB);
    await c.set("v", value);
    for (let i = 0; i < 32; i++) await c.getBuffer("v"); // 32 MiB out
    c.disconnect();

    const raw = await rawConnect(endpoint);
    expect(await raw.call("AUTH", id, lease.lease_token)).toBe("OK");
    const t0 = performance.now();
    // The renter's own egress figure is used only when the node reported nothing.
    await ok("POST", `/api/contracts/${id}/settle`, { actual_egress_gb: 5 }, m.renter);
    const closedAt = await Promise.race([raw.closed, new Promise<number>((r) => setTimeout(() => r(Number.POSITIVE_INFINITY), 5000))]);
    expect(closedAt - t0).toBeLessThan(2000);

    const again = await rawConnect(endpoint);
    expect(await again.call("AUTH", id, lease.lease_token)).toEqual({
      error: "WRONGPASS invalid username-password pair or user is disabled.",
    });
    again.destroy();

    const ended = await agent.waitForEvent((e) => e.event === "contract_ended" && e.contract_id === id, "the lease's end");
    const receipt = ended.receipt as Json;
    expect(receipt.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(receipt.keys).toBe(1);
    expect(receipt.bytes_out).toBeGreaterThanOrEqual(32 * MIB);
    const withReceipt = await until(
      async () => {
        const v = await ok("GET", `/api/contracts/${id}`, undefined, m.renter);
        return v.contract.lease_receipt && v;
      },
      "the receipt on the contract",
      30_000,
    );
    expect(withReceipt.contract.lease_receipt).toMatchObject({
      contract_id: id,
      digest: receipt.digest,
      bytes_out: receipt.bytes_out,
      bytes_in: receipt.bytes_in,
      keys: 1,
    });
    expect(Number(withReceipt.contract.measured_egress_gb)).toBeCloseTo(receipt.bytes_out / GIB, 6);

    const settled = await until(
      async () => {
        const v = await ok("GET", `/api/contracts/${id}`, undefined, m.renter);
        return v.contract.settlement_hash && v;
      },
      "settlement",
      90_000,
      500,
    );
    // Time: 1 GB for the 60 s minimum at the default price; egress: measured bytes at $0.5/GB.
    const expected = 1 * 60 * 0.0000008 + (receipt.bytes_out / GIB) * 0.5;
    expect(Number(settled.contract.total_cost_usd)).toBeCloseTo(expected, 5);
    expect(Number(settled.contract.total_cost_usd)).toBeLessThan(1); // never the renter's 5 GB
  });

  it("SIGINT with open leases: connections close, leases are wiped, receipts reported, the node drained", async () => {
    const m = await market("sigint");
    // A long interval, so the shutdown's last heartbeat is not refused by the rate limit.
    const { agent, nodeId, endpoint } = await serving(agentConfig(m, { heartbeat_interval: 600 }));
    const id = await rent(m, nodeId, 1);
    const lease = await activeLease(m, id);
    const raw = await rawConnect(endpoint);
    expect(await raw.call("AUTH", id, lease.lease_token)).toBe("OK");
    expect(await raw.call("SET", "k", "v")).toBe("OK");
    await new Promise((r) => setTimeout(r, 1100)); // past HEARTBEAT_MIN_INTERVAL_SEC since the first beat

    const t0 = performance.now();
    const { code, ms } = await stopAgent(agent, "SIGINT");
    expect(code).toBe(0);
    expect(ms).toBeLessThan(5000);
    expect((await raw.closed) - t0).toBeLessThan(2000);
    const events = agent.events();
    expect(events.find((e) => e.event === "leases_wiped")).toMatchObject({ contracts: [id] });
    expect(events.find((e) => e.event === "receipts_reported")).toMatchObject({ contracts: [id] });
    expect(events.at(-1)).toMatchObject({ event: "stopped", status: "maintenance" });
    const v = await ok("GET", `/api/contracts/${id}`, undefined, m.renter);
    expect(v.contract.lease_receipt).toMatchObject({ contract_id: id, keys: 1 });
    expect(v.contract.lease_receipt.digest).toMatch(/^[0-9a-f]{64}$/);
    expect((await ok("GET", `/api/nodes/${nodeId}`, undefined, m.provider)).node.status).toBe("maintenance");
  });
});
