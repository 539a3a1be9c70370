/**
 * The real agent process when the API is not there or misbehaves. A closed port stands for an
 * unreachable API; a tiny local server plays a worker answering 503 and 429, which the real
 * worker cannot be made to do on demand.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createNetServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { runAgent, tempConfig, type AgentProcess } from "./helpers.ts";
import { backoffSec } from "../src/agent.ts";

const NODE_ID = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d";
let agent: AgentProcess | undefined;
let server: Server | undefined;

afterEach(async () => {
  agent?.kill("SIGKILL");
  agent = undefined;
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createNetServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function fakeApi(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<string> {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => handler(req, res, body));
  });
  return new Promise((resolve) =>
    server!.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server!.address() as { port: number }).port}`)),
  );
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

describe("backoff", () => {
  it("doubles from 1 s up to 60 s, with half of each step random", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((a) => backoffSec(a, () => 0))).toEqual([0.5, 1, 2, 4, 8, 16, 30, 30]);
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((a) => backoffSec(a, () => 1))).toEqual([1, 2, 4, 8, 16, 32, 60, 60]);
  });
});

describe("an unreachable or failing API", () => {
  it("retries with exponential backoff and jitter, says so, and never exits", async () => {
    const port = await closedPort();
    const path = tempConfig({ api_url: `http://127.0.0.1:${port}`, api_key: "mk_x", region: "eu-west" });
    agent = runAgent(["start", "--config", path]);
    await agent.waitFor((o) => (o.match(/retrying in/g) ?? []).length >= 4, "four retry lines", 30_000);
    const lines = agent
      .stderr()
      .split("\n")
      .filter((l) => l.includes("retrying in"));
    const delays = lines.map((l) => Number(/retrying in ([\d.]+) s/.exec(l)![1]));
    expect(lines[0]).toMatch(
      /^\d\d:\d\d:\d\d warn: registering the node failed \(API unreachable: cannot reach http:\/\/127\.0\.0\.1:\d+ \(connection refused\)\); retrying in [\d.]+ s \(attempt 1\)$/,
    );
    // Each delay lies in its step's [half, whole]: exponential, jittered.
    delays.slice(0, 4).forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual(2 ** i / 2 - 0.05);
      expect(d).toBeLessThanOrEqual(2 ** i + 0.05);
    });
    expect(lines.map((l) => /attempt (\d+)/.exec(l)![1])).toEqual(lines.map((_, i) => String(i + 1)));
    expect(agent.child.exitCode).toBeNull(); // still running
    // Stopping while it waits is still clean.
    agent.kill("SIGTERM");
    expect((await agent.exited).code).toBe(0);
    expect(agent.stdout()).toContain("stopped before the node was registered");
  });

  it("retries 5xx, honours Retry-After on 429, and then carries on", async () => {
    let registers = 0;
    const beats: number[] = [];
    const url = await fakeApi((req, res) => {
      if (req.url === "/api/nodes/register") {
        registers++;
        if (registers <= 2) return send(res, 503, { error: { code: "unavailable", message: "database is busy" } });
        return send(res, 201, { node_id: NODE_ID, node: { id: NODE_ID, status: "active" } });
      }
      if (req.url === `/api/nodes/${NODE_ID}/heartbeat`) {
        beats.push(Date.now());
        if (beats.length === 1) return send(res, 429, { error: { code: "rate_limited", message: "slow down" } }, { "retry-after": "2" });
        return send(res, 200, { status: "active", next_heartbeat_sec: 1, contracts: [] });
      }
      if (req.url === "/api/billing/earnings") return send(res, 200, { earned_usd: 1.5, paid_out_usd: 0, pending_usd: 1.5 });
      send(res, 404, { error: { code: "not_found", message: "no" } });
    });
    const path = tempConfig({ api_url: url, api_key: "mk_x", region: "eu-west", endpoint_port: 0, endpoint_bind: "127.0.0.1" });
    agent = runAgent(["start", "--config", path, "--json"]);
    await agent.waitFor(() => agent!.events().filter((e) => e.event === "heartbeat").length >= 2, "two heartbeats", 30_000);
    const ev = agent.events();
    const retries = ev.filter((e) => e.event === "retry");
    expect(retries).toHaveLength(2);
    expect(retries[0].msg).toMatch(/registering the node failed \(the API answered 503 unavailable\); retrying in/);
    expect(ev.some((e) => e.event === "api_reachable")).toBe(true);
    expect(ev.find((e) => e.event === "rate_limited")).toMatchObject({ retry_after_sec: 2 });
    // The second heartbeat waited out the Retry-After.
    expect(beats[1] - beats[0]).toBeGreaterThanOrEqual(1900);
    expect(ev.find((e) => e.event === "heartbeat")).toMatchObject({ earned_usd: 1.5, next_heartbeat_sec: 1 });
    agent.kill("SIGTERM");
    expect((await agent.exited).code).toBe(0);
  });

  it("a 403 (not a provider's key) exits 1 with one sentence", async () => {
    const url = await fakeApi((_req, res) => send(res, 403, { error: { code: "forbidden", message: "providers only" } }));
    const path = tempConfig({ api_url: url, api_key: "mk_x", region: "eu-west", endpoint_port: 0, endpoint_bind: "127.0.0.1" });
    agent = runAgent(["start", "--config", path]);
    const { code } = await agent.exited;
    expect(code).toBe(1);
    expect(agent.stderr().trim().split("\n")).toHaveLength(1);
    expect(agent.stderr()).toMatch(
      /error: The API key's account may not do this while registering the node \(403 forbidden: providers only\)/,
    );
  });

  it("without the push channel heartbeats deliver: the lease is opened and made ready, counters reported, and the receipt carried until a heartbeat is accepted", async () => {
    const CID = "7d1e2f30-4a5b-4c6d-8e7f-901a2b3c4d5e";
    const end = new Date(Date.now() + 300_000).toISOString();
    const beats: Array<Record<string, any>> = [];
    const ready: string[] = [];
    const url = await fakeApi((req, res, body) => {
      if (req.url === "/api/nodes/register") return send(res, 201, { node_id: NODE_ID, node: { status: "active" } });
      if (req.method === "PUT" && req.url === `/api/nodes/${NODE_ID}`)
        return send(res, 200, { node: { status: JSON.parse(body).status ?? "active" } });
      if (req.url === `/api/nodes/${NODE_ID}/contracts/${CID}/ready`) {
        ready.push(CID);
        return send(res, 200, { contract: { id: CID, status: "active", end_time: end } });
      }
      if (req.url === `/api/nodes/${NODE_ID}/heartbeat`) {
        beats.push(JSON.parse(body));
        const n = beats.length;
        const c = { id: CID, ram_gb: 1, vram_gb: 0 };
        if (n === 1)
          return send(res, 200, { status: "active", next_heartbeat_sec: 1, contracts: [{ ...c, end_time: null, status: "pending" }] });
        if (n === 2)
          return send(res, 200, { status: "active", next_heartbeat_sec: 1, contracts: [{ ...c, end_time: end, status: "active" }] });
        // The fourth (the first carrying the receipt) is refused: the fifth must carry it again.
        if (n === 4) return send(res, 429, { error: { code: "rate_limited", message: "slow down" } }, { "retry-after": "1" });
        return send(res, 200, { status: "active", next_heartbeat_sec: 1, contracts: [] });
      }
      if (req.url === "/api/billing/earnings") return send(res, 200, { earned_usd: 0, paid_out_usd: 0, pending_usd: 0 });
      send(res, 404, { error: { code: "not_found", message: "no" } });
    });
    const path = tempConfig({
      api_url: url,
      api_key: "mk_x",
      region: "eu-west",
      reserve_ram_gb: 0,
      simulate_ram_gb: 4,
      endpoint_port: 0,
      endpoint_bind: "127.0.0.1",
      endpoint_host: "127.0.0.1",
    });
    agent = runAgent(["start", "--config", path, "--json"]);
    await agent.waitFor(() => beats.length >= 6, "six heartbeats", 60_000);
    const ev = agent.events();
    expect(ev.some((e) => e.event === "push_connected")).toBe(false);
    expect(ev.find((e) => e.event === "contract_held")).toMatchObject({ contract_id: CID, source: "heartbeat" });
    expect(ready).toEqual([CID]);
    const endpoint = ev.find((e) => e.event === "endpoint")!.endpoint;
    expect(beats.every((b) => b.endpoint === endpoint)).toBe(true);
    // Live counters while the lease is open.
    expect(beats[1].lease_reports).toEqual([{ contract_id: CID, bytes_in: 0, bytes_out: 0, keys: 0, used_bytes: 0, final: false }]);
    const receipt = (ev.find((e) => e.event === "contract_ended") as Record<string, any>).receipt;
    expect(receipt.digest).toMatch(/^[0-9a-f]{64}$/);
    const final = {
      contract_id: CID,
      bytes_in: 0,
      bytes_out: 0,
      keys: 0,
      used_bytes: 0,
      final: true,
      digest: receipt.digest,
      wiped_at: receipt.wiped_at,
    };
    expect(beats[3].lease_reports).toEqual([final]); // refused (429)
    expect(beats[4].lease_reports).toEqual([final]); // sent again, accepted
    expect(beats[5].lease_reports).toBeUndefined(); // owed no more
    // The offer is the machine's (simulated) 4 GB whatever the lease holds: the server subtracts contracts.
    expect(beats.every((b) => b.available_ram_gb === 4)).toBe(true);
    agent.kill("SIGTERM");
    expect((await agent.exited).code).toBe(0);
  });
});
