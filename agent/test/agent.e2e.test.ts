/**
 * The real agent process against the real worker (`wrangler dev`, fresh local D1): accounts are
 * made through the API, exactly as a provider and a renter would.
 */
import { readFileSync } from "node:fs";
import si from "systeminformation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loopbackConfig, runAgent, runCli, stopAgent, type AgentProcess } from "./helpers.ts";
import { api, type Json, startWorker, until, type Worker } from "./support/worker.ts";

const ADMIN_EMAIL = "admin@agent-e2e.test";
const GIB = 1024 ** 3;

let worker: Worker;
let apiKey: string;
let renterToken: string;
const running: AgentProcess[] = [];

const { call, ok } = api(() => worker.url);

const asProvider = () => ({ "x-api-key": apiKey });
const asRenter = () => ({ authorization: `Bearer ${renterToken}` });

async function register(email: string, role?: string): Promise<Json> {
  return ok("POST", "/api/auth/register", { email, password: "correct-horse-battery", ...(role ? { role } : {}) });
}

function start(configPath: string, extra: string[] = ["--json"], env: Record<string, string> = {}): AgentProcess {
  const p = runAgent(["start", "--config", configPath, ...extra], env);
  running.push(p);
  return p;
}

function nodeConfig(extra: Record<string, unknown> = {}): string {
  return loopbackConfig({ api_url: worker.url, api_key: apiKey, region: "eu-west", name: "agent-e2e", ...extra });
}

const heartbeats = (p: AgentProcess) => p.events().filter((e) => e.event === "heartbeat");

beforeAll(async () => {
  worker = await startWorker({ HEARTBEAT_MIN_INTERVAL_SEC: "1", ADMIN_EMAILS: ADMIN_EMAIL });
  const provider = await register("provider@agent-e2e.test", "provider");
  apiKey = (await ok("POST", "/api/auth/api-keys", { name: "agent" }, { authorization: `Bearer ${provider.access_token}` })).api_key;
  const renter = await register("renter@agent-e2e.test", "user");
  renterToken = renter.access_token;
  const admin = await register(ADMIN_EMAIL);
  await ok(
    "POST",
    "/api/admin/credits",
    { user_id: renter.user.id, amount_usd: 100, reason: "agent e2e" },
    { authorization: `Bearer ${admin.access_token}` },
  );
}, 180_000);

/**
 * Each test sets up what it needs (its own node, agent and contract) instead of inheriting the
 * previous test's, so any test passes or fails alone, in any order.
 */
async function startNode(name: string, extra: Record<string, unknown> = {}) {
  const configPath = nodeConfig({ name: `${name}-${Math.random().toString(36).slice(2, 8)}`, reserve_ram_gb: 1, ...extra });
  const agent = start(configPath);
  const registered = await agent.waitForEvent((e) => e.event === "registered", "registration");
  return { agent, configPath, nodeId: registered.node_id as string, registered };
}

/** A 1 GB contract on the node, held by its running agent (lease open, ready called) and active. */
async function heldContract(agent: AgentProcess, nodeId: string): Promise<string> {
  const { contract } = await ok("POST", "/api/contracts/create", { node_id: nodeId, ram_gb: 1, vram_gb: 0, duration_sec: 300 }, asRenter());
  await agent.waitForEvent((e) => e.event === "contract_held" && e.contract_id === contract.id, "holding the contract");
  await agent.waitForEvent((e) => e.event === "contract_ready" && e.contract_id === contract.id, "the ready call");
  await until(
    async () => (await ok("GET", `/api/contracts/${contract.id}`, undefined, asRenter())).contract.status === "active",
    "the contract to become active",
  );
  return contract.id as string;
}

afterAll(async () => {
  for (const p of running) p.kill("SIGKILL");
  await worker?.stop();
});

describe("mnemo-agent against the real worker", () => {
  it("registers with this machine's real RAM, saves node_id, and heartbeats arrive", async () => {
    const { agent, configPath, nodeId, registered } = await startNode("agent-e2e");
    expect(JSON.parse(readFileSync(configPath, "utf8")).node_id).toBe(nodeId);

    const totalRamGb = Math.floor((await si.mem()).total / GIB);
    expect(registered.total_ram_gb).toBe(totalRamGb);
    const { node } = await ok("GET", `/api/nodes/${nodeId}`, undefined, asProvider());
    expect(node.total_ram_gb).toBe(totalRamGb);
    expect(node.total_vram_gb).toBe(registered.total_vram_gb);
    expect(node.metadata).toMatchObject({ agent: expect.stringMatching(/^mnemo-agent\//) });

    await agent.waitFor(() => heartbeats(agent).length >= 3, "three heartbeats");
    const hbs = heartbeats(agent);
    // The server set the pace (1 s here); the agent never went faster and was never told off.
    expect(hbs.every((h) => h.next_heartbeat_sec === 1)).toBe(true);
    expect(agent.events().some((e) => e.event === "rate_limited")).toBe(false);
    const last = hbs.at(-1)!;
    const offered = last.available_ram_gb as number;
    expect(offered).toBeGreaterThan(0);
    expect(offered).toBeLessThanOrEqual(totalRamGb - 1);

    const after = (await ok("GET", `/api/nodes/${nodeId}`, undefined, asProvider())).node;
    expect(after.status).toBe("active");
    expect(after.last_heartbeat_at).not.toBeNull();
    expect(after.reported_ram_gb).toBeGreaterThan(0);
    expect(after.reported_ram_gb).toBeLessThanOrEqual(totalRamGb - 1);
    await stopAgent(agent);
  });

  it("picks up a contract, opens its lease and makes it ready", async () => {
    const { agent, nodeId } = await startNode("agent-e2e-pickup");
    await agent.waitFor(() => heartbeats(agent).length >= 1, "a heartbeat");
    const { contract } = await ok(
      "POST",
      "/api/contracts/create",
      { node_id: nodeId, ram_gb: 1, vram_gb: 0, duration_sec: 300 },
      asRenter(),
    );
    const contractId = contract.id as string;

    const held = await agent.waitForEvent((e) => e.event === "contract_held" && e.contract_id === contractId, "holding the contract");
    expect(held.msg).toBe(`holding contract ${contractId} (1 GB RAM, 0 GB VRAM)`);
    await agent.waitForEvent((e) => e.event === "contract_ready" && e.contract_id === contractId, "the ready call");
    const view = await until(async () => {
      const v = await ok("GET", `/api/contracts/${contractId}`, undefined, asRenter());
      return v.contract.status === "active" && v;
    }, "the contract to become active");
    expect(view.contract.start_time).not.toBeNull();
    expect(view.metrics).toBeTruthy();
    await agent.waitFor(
      () => heartbeats(agent).some((h) => (h.contracts as string[]).includes(contractId)),
      "a heartbeat listing the contract",
    );

    const listed = await ok("GET", `/api/contracts?node_id=${nodeId}`, undefined, asProvider());
    expect(listed.contracts.map((c: Json) => c.id)).toContain(contractId);
    await stopAgent(agent);
  });

  it("SIGTERM wipes the lease, hands its contract back, drains the node to maintenance and exits 0 within a few seconds", async () => {
    const { agent, nodeId } = await startNode("agent-e2e-drain");
    const contractId = await heldContract(agent, nodeId);
    const { code, ms } = await stopAgent(agent, "SIGTERM");
    expect(code).toBe(0);
    expect(ms).toBeLessThan(5000);
    expect(agent.events().find((e) => e.event === "contracts_released")).toMatchObject({ contracts: [contractId], not_released: [] });
    // The memory is gone, so the contract is no longer active (failed over), with its receipt.
    const after = (await ok("GET", `/api/contracts/${contractId}`, undefined, asRenter())).contract;
    expect(after.status).not.toBe("active");
    expect(after.lease_receipt).toMatchObject({ contract_id: contractId });
    expect(agent.events().at(-1)).toMatchObject({ event: "stopped", status: "maintenance" });
    expect((await ok("GET", `/api/nodes/${nodeId}`, undefined, asProvider())).node.status).toBe("maintenance");
  });

  it("a restart reuses the node (no duplicate), goes active again, and SIGINT drains it", async () => {
    const first = await startNode("agent-e2e-restart");
    const { configPath, nodeId } = first;
    const contractId = await heldContract(first.agent, nodeId);
    expect((await stopAgent(first.agent, "SIGTERM")).code).toBe(0);
    const name = JSON.parse(readFileSync(configPath, "utf8")).name as string;
    const agent = start(configPath, []); // human log mode
    await agent.waitFor((o) => o.includes(`reusing node ${nodeId}`), "reuse of the node");
    await agent.waitFor((o) => /heartbeat: offering/.test(o), "a heartbeat line");
    // The contract from before ended with the last run (its lease was wiped): never held again.
    expect(agent.stdout()).not.toContain(`holding contract ${contractId}`);
    const line = agent
      .stdout()
      .split("\n")
      .find((l) => l.includes("heartbeat: offering"))!;
    expect(line).toMatch(
      /^\d\d:\d\d:\d\d heartbeat: offering \d+ GB RAM, \d+ GB VRAM · \d+ contracts? (\(\d+ GB RAM, \d+ GB VRAM\) )?· earned \$[\d.—]+ · next in 1 s$/,
    );
    expect(JSON.parse(readFileSync(configPath, "utf8")).node_id).toBe(nodeId);
    expect((await ok("GET", `/api/nodes/${nodeId}`, undefined, asProvider())).node.status).toBe("active");
    const mine = await ok("GET", "/api/nodes?mine=true&limit=500", undefined, asProvider());
    expect(mine.nodes.filter((n: Json) => n.name === name)).toHaveLength(1);

    const { code, ms } = await stopAgent(agent, "SIGINT");
    expect(code).toBe(0);
    expect(ms).toBeLessThan(5000);
    expect(agent.stdout()).toMatch(new RegExp(`node ${nodeId} set to maintenance; stopped`));
    expect((await ok("GET", `/api/nodes/${nodeId}`, undefined, asProvider())).node.status).toBe("maintenance");
  });

  it("status shows the seller's dashboard", async () => {
    const { agent, configPath, nodeId } = await startNode("agent-e2e-status");
    await heldContract(agent, nodeId);
    expect((await stopAgent(agent, "SIGTERM")).code).toBe(0);
    const name = JSON.parse(readFileSync(configPath, "utf8")).name as string;
    const r = await runCli(["status", "--config", configPath]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Mnemo node ${name}  ·  MAINTENANCE`);
    expect(r.stdout).toContain(nodeId);
    expect(r.stdout).toMatch(/Capacity\s+\d+ GB RAM, \d+ GB VRAM total/);
    expect(r.stdout).toMatch(/Last heartbeat\s+.*ago/);
    expect(r.stdout).toMatch(/Contracts\s+none right now/);
    expect(r.stdout).toMatch(/VRAM\s+offers 0 GB/);
    expect(r.stdout).toMatch(
      /Lease endpoint\s+127\.0\.0\.1:\d+ \(as the market has it\); listens on 127\.0\.0\.1:any free port, advertised as 127\.0\.0\.1/,
    );
    expect(r.stdout).toMatch(/Account\s+earned \$/);
    const j = await runCli(["status", "--config", configPath, "--json"]);
    const report = JSON.parse(j.stdout);
    expect(report).toMatchObject({ node_id: nodeId, node: { status: "maintenance" }, machine: { vram_offered_gb: 0 } });
    expect(report.contracts).toEqual([]);
  });

  it("logs when a contract ends", async () => {
    const { agent, nodeId } = await startNode("agent-e2e-end");
    const contractId = await heldContract(agent, nodeId);
    const settled = await ok("POST", `/api/contracts/${contractId}/settle`, {}, asRenter());
    expect(settled.contract.status).not.toBe("active");
    const ended = await agent.waitForEvent((e) => e.event === "contract_ended" && e.contract_id === contractId, "the contract's end");
    expect(ended.msg).toMatch(
      new RegExp(
        `^contract ${contractId} ended \\(1 GB RAM, 0 GB VRAM released\\); lease wiped: 0 keys, \\d+ B in, \\d+ B out, digest [0-9a-f]{12}…$`,
      ),
    );
    await agent.waitFor(() => heartbeats(agent).some((h) => (h.contracts as string[]).length === 0), "a heartbeat holding nothing");
    expect((await stopAgent(agent)).code).toBe(0);
  });

  it("a contract it cannot hold is rejected at once", async () => {
    // Offer everything, so the market reserves a contract on this node; then come back with a
    // reserve larger than the machine, so the agent can no longer hold it.
    const path = nodeConfig({ name: "agent-e2e-reject", reserve_ram_gb: 0 });
    const first = start(path);
    await first.waitFor(() => heartbeats(first).length >= 1, "a heartbeat");
    const id = first.events().find((e) => e.event === "registered")!.node_id as string;
    await stopAgent(first, "SIGKILL"); // no drain: the node stays active with the memory on offer

    const { contract } = await ok("POST", "/api/contracts/create", { node_id: id, ram_gb: 2, vram_gb: 0, duration_sec: 120 }, asRenter());
    const greedy = JSON.parse(readFileSync(path, "utf8"));
    greedy.reserve_ram_gb = 100_000;
    (await import("node:fs")).writeFileSync(path, JSON.stringify(greedy));

    const second = start(path);
    const rejected = await second.waitForEvent((e) => e.event === "contract_rejected" && e.contract_id === contract.id, "the rejection");
    expect(rejected.msg).toMatch(new RegExp(`^cannot hold contract ${contract.id} \\(2 GB RAM, 0 GB VRAM\\)`));
    await second.waitForEvent((e) => e.event === "contract_reject_sent" && e.contract_id === contract.id, "POST …/reject");
    const hb = await second.waitForEvent((e) => e.event === "heartbeat", "a heartbeat");
    expect(hb.available_ram_gb).toBe(0);
    expect(second.events().some((e) => e.event === "contract_held" && e.contract_id === contract.id)).toBe(false);
    const after = await until(async () => {
      const v = await ok("GET", `/api/contracts/${contract.id}`, undefined, asRenter());
      return (v.contract.status === "failed" || v.contract.failed_over_to) && v;
    }, "the server to fail the contract over");
    expect(after.contract.status).not.toBe("active");
    await stopAgent(second);
  });

  it("outside the idle schedule the node goes to maintenance and offers nothing", async () => {
    const h = new Date().getHours();
    const hh = (n: number) => `${String(n % 24).padStart(2, "0")}:00`;
    const path = nodeConfig({ name: "agent-e2e-schedule", idle_schedule: `${hh(h + 2)}-${hh(h + 3)}` });
    const agent = start(path);
    const status = await agent.waitForEvent((e) => e.event === "node_status", "the schedule's maintenance");
    expect(status.status).toBe("maintenance");
    const hb = await agent.waitForEvent((e) => e.event === "heartbeat", "a heartbeat");
    expect(hb).toMatchObject({ available_ram_gb: 0, available_vram_gb: 0, node_status: "maintenance" });
    const id = agent.events().find((e) => e.event === "registered")!.node_id as string;
    expect((await ok("GET", `/api/nodes/${id}`, undefined, asProvider())).node.status).toBe("maintenance");
    await stopAgent(agent);
  });

  it("a retired node's agent stops with one clear sentence (410 gone) instead of retrying", async () => {
    const { agent, nodeId } = await startNode("agent-e2e-retired");
    await agent.waitFor(() => heartbeats(agent).length >= 1, "a heartbeat");
    const retired = await ok("DELETE", `/api/nodes/${nodeId}`, undefined, asProvider());
    expect(retired.node.status).toBe("offline");
    const { code } = await agent.exited;
    expect(code).toBe(1);
    expect(agent.events().find((e) => e.event === "fatal")?.msg).toMatch(
      new RegExp(`^Node ${nodeId} was retired by its owner \\(410 gone\\)`),
    );
  });

  it("a wrong API key exits non-zero with one clear sentence and no stack trace", async () => {
    const path = nodeConfig({ api_key: "mk_this_key_does_not_exist_000000000000" });
    const r = await runCli(["start", "--config", path]);
    expect(r.code).toBe(1);
    const errLines = r.stderr.trim().split("\n");
    expect(errLines).toHaveLength(1);
    expect(errLines[0]).toMatch(
      /^\d\d:\d\d:\d\d error: The API refused the API key while registering the node \(401 unauthenticated\): check api_key in .* or MNEMO_API_KEY\.$/,
    );
    expect(r.stderr + r.stdout).not.toMatch(/\n\s+at /);
    expect(JSON.parse(readFileSync(path, "utf8")).node_id).toBeUndefined();

    // MNEMO_API_KEY overrides a good key in the file.
    const good = nodeConfig({ name: "agent-e2e-env" });
    const viaEnv = await runCli(["start", "--config", good], { MNEMO_API_KEY: "mk_wrong_from_env" });
    expect(viaEnv.code).toBe(1);
    expect(viaEnv.stderr).toContain("401 unauthenticated");
  });
});
