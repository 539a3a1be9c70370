// Create → first successful command: how long a renter waits between `POST /api/contracts/create`
// and the first command that succeeds on the lease, with the real pieces: `wrangler dev` (the
// worker, its region Durable Object and push channel), the real `mnemo-agent start` process (its
// lease server) and ioredis as the renter's client (connect, AUTH, its INFO ready check, SET).
// The agent heartbeats at the server's default 30 s interval, so delivery is the push channel's.
//
// Each rental: create → poll GET /api/contracts/{id}/lease every 20 ms until it is served (the
// contract is active once the agent has opened the lease and called ready) → ioredis SET → OK.
// Baseline measured in the same run: the bare `create` round trip (what the API alone costs).
// Target: p50 ≤ 2 s on one machine (API.md, Contracts).
//
//   node bench/first-command.bench.mjs [rentals]           starts its own worker
//   import { runFirstCommandBench } from "./first-command.bench.mjs"   from bench/run.mjs
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const AGENT_BIN = join(ROOT, "agent/bin/mnemo-agent.mjs");
export const TARGET_P50_MS = 2000;
export const ADMIN_EMAIL = "first-command-admin@bench.local";

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : "n/a");

async function api(url, method, path, body, headers = {}) {
  const r = await fetch(url + path, {
    method,
    headers: { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

async function must(url, method, path, body, headers) {
  const r = await api(url, method, path, body, headers);
  if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

function waitForEvent(child, pred, timeoutMs, what) {
  return new Promise((resolveWait, reject) => {
    let buf = "";
    const t = setTimeout(
      () => reject(new Error(`first-command bench: no ${what} within ${timeoutMs / 1000} s:\n${buf.slice(-2000)}`)),
      timeoutMs,
    );
    const onData = (d) => {
      buf += d;
      for (const line of buf.split("\n")) {
        if (!line.startsWith("{")) continue;
        const e = JSON.parse(line);
        if (pred(e)) {
          clearTimeout(t);
          child.stdout.off("data", onData);
          return resolveWait(e);
        }
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", (d) => (buf += d));
    child.once("exit", (code) => reject(new Error(`first-command bench: the agent exited (${code}) before ${what}:\n${buf.slice(-2000)}`)));
  });
}

/**
 * @param {{ url: string, rentals?: number, log?: (line: string) => void }} opts  the worker must list ADMIN_EMAIL in ADMIN_EMAILS
 * @returns {Promise<{ p50: number, p99: number, max: number, createP50: number, createP99: number, rentals: number, pass: boolean }>}
 */
export async function runFirstCommandBench({ url, rentals = 20, log = console.log }) {
  const tag = `${process.pid}-${Date.now()}`;
  const admin = await must(url, "POST", "/api/auth/register", { email: ADMIN_EMAIL, password: "bench password" }).catch(() =>
    must(url, "POST", "/api/auth/login", { email: ADMIN_EMAIL, password: "bench password" }),
  );
  const provider = await must(url, "POST", "/api/auth/register", {
    email: `fc-provider-${tag}@bench.local`,
    password: "bench password",
    role: "provider",
  });
  const key = await must(
    url,
    "POST",
    "/api/auth/api-keys",
    { name: "first-command bench" },
    { authorization: `Bearer ${provider.access_token}` },
  );
  const renter = await must(url, "POST", "/api/auth/register", { email: `fc-renter-${tag}@bench.local`, password: "bench password" });
  await must(
    url,
    "POST",
    "/api/admin/credits",
    { user_id: renter.user.id, amount_usd: 100, reason: "bench" },
    { authorization: `Bearer ${admin.access_token}` },
  );
  const asRenter = { authorization: `Bearer ${renter.access_token}` };

  const dir = mkdtempSync(join(tmpdir(), "mnemo-first-command-"));
  const config = join(dir, "agent.json");
  writeFileSync(
    config,
    JSON.stringify({
      api_url: url,
      api_key: key.api_key,
      region: `bench-fc-${process.pid}`,
      name: `first-command-${process.pid}`,
      reserve_ram_gb: 0,
      simulate_ram_gb: 16,
      endpoint_host: "127.0.0.1",
      endpoint_bind: "127.0.0.1",
      endpoint_port: 0,
    }),
  );
  const env = { ...process.env };
  delete env.MNEMO_API_URL;
  delete env.MNEMO_API_KEY;
  const agent = spawn(process.execPath, [AGENT_BIN, "start", "--config", config, "--json"], { env, stdio: ["ignore", "pipe", "pipe"] });
  const totals = [];
  const creates = [];
  try {
    const ready = waitForEvent(agent, (e) => e.event === "push_connected", 60_000, "push channel");
    const beat = waitForEvent(agent, (e) => e.event === "heartbeat", 60_000, "first heartbeat");
    const registered = await waitForEvent(agent, (e) => e.event === "endpoint", 60_000, "lease endpoint");
    await Promise.all([ready, beat]);
    const nodeId = registered.node_id;
    for (let i = 0; i < rentals + 2; i++) {
      const t0 = performance.now();
      const { contract } = await must(
        url,
        "POST",
        "/api/contracts/create",
        { node_id: nodeId, ram_gb: 1, vram_gb: 0, duration_sec: 60 },
        asRenter,
      );
      const tCreate = performance.now() - t0;
      let lease = null;
      for (let polls = 0; polls < 1500 && !lease; polls++) {
        const r = await api(url, "GET", `/api/contracts/${contract.id}/lease`, undefined, asRenter);
        if (r.status === 200) lease = r.body;
        else if (r.status !== 409) throw new Error(`GET lease → ${r.status} ${JSON.stringify(r.body)}`);
        else await new Promise((res) => setTimeout(res, 20));
      }
      if (!lease) throw new Error(`contract ${contract.id} never became active`);
      const client = new Redis(lease.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      try {
        await client.connect();
        if ((await client.set("first", "command")) !== "OK") throw new Error("SET did not answer OK");
      } finally {
        client.disconnect();
      }
      const total = performance.now() - t0;
      // Two warm-up rentals (first JWKS fetch, cold code paths) are not counted.
      if (i >= 2) {
        totals.push(total);
        creates.push(tCreate);
      }
      await must(url, "POST", `/api/contracts/${contract.id}/settle`, {}, asRenter);
    }
  } finally {
    agent.kill("SIGTERM");
    await new Promise((r) => (agent.exitCode !== null ? r() : (agent.once("exit", r), setTimeout(r, 8000))));
    rmSync(dir, { recursive: true, force: true });
  }
  const result = {
    p50: pct(totals, 50),
    p99: pct(totals, 99),
    max: Math.max(...totals),
    createP50: pct(creates, 50),
    createP99: pct(creates, 99),
    rentals: totals.length,
  };
  result.pass = result.p50 <= TARGET_P50_MS;
  log(`create round trip (baseline)        p50 ${fmt(result.createP50)} ms  p99 ${fmt(result.createP99)} ms`);
  log(
    `create → first SET OK on the lease  p50 ${fmt(result.p50)} ms  p99 ${fmt(result.p99)} ms  max ${fmt(result.max)} ms over ${result.rentals} rentals ` +
      `(${fmt(result.p50 / result.createP50, 1)}× the create call; target p50 ≤ ${TARGET_P50_MS} ms) ${result.pass ? "ok" : "OVER"}`,
  );
  return result;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const rentals = Number(process.argv[2] ?? 20);
  const { startWorker } = await import("../scripts/lib/worker-server.mjs");
  const worker = await startWorker({ vars: { ADMIN_EMAILS: ADMIN_EMAIL } });
  try {
    const r = await runFirstCommandBench({ url: worker.url, rentals });
    process.exitCode = r.pass ? 0 : 1;
  } finally {
    await worker.stop();
  }
}
