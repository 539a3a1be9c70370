// The provider agent's footprint: RSS and CPU share of the real `mnemo-agent start` process over
// a stretch of heartbeats at the server's interval, next to a bare Node process measured the same
// way in the same run (what any Node program costs before doing anything).
//
//   node bench/agent.bench.mjs [seconds]     starts its own worker (wrangler dev) and measures
//   import { runAgentBench } from "./agent.bench.mjs"   from bench/run.mjs, against a running worker
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const AGENT_BIN = join(ROOT, "agent/bin/mnemo-agent.mjs");
// RSS: 80 MB while the agent only heartbeated and ran V8 interpreter-only. The daemon now also
// holds the push channel (undici's WebSocket), verifies lease tokens (jose) and serves leases, and
// runs with the JIT on (see agent/bin/mnemo-agent.mjs: redis-benchmark against a lease ran 2.5×
// faster at -P 16 and for 4 KiB SETs with it, for ~9 MB more RSS when idle). Measured idle here,
// with no lease open: ~85 MB (a bare Node process ~42 MB). The bytes renters store come on top,
// at most the leased quota plus a bounded buffer: that is the lease bench's quota-fill figure.
export const TARGETS = { rssMb: 100, cpuPct: 0.5 };

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function rssMb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** utime + stime in seconds. The command name may contain spaces, so fields count from its ')'. */
function cpuSec(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Samples a process once a second between `from` (after start-up) and the end of the window. */
async function measure(pid, seconds) {
  const rss = [];
  const cpu0 = cpuSec(pid);
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(0, end - performance.now()))));
    try {
      rss.push(rssMb(pid));
    } catch {
      break; // the process is gone: report what was seen
    }
  }
  const wall = (performance.now() - t0) / 1000;
  let cpu1 = cpu0;
  try {
    cpu1 = cpuSec(pid);
  } catch {}
  return {
    rssMbMax: Math.max(...rss),
    rssMbAvg: rss.reduce((a, b) => a + b, 0) / rss.length,
    cpuPct: ((cpu1 - cpu0) / wall) * 100,
  };
}

function waitForLine(child, pred, timeoutMs, what) {
  return new Promise((resolveWait, reject) => {
    let buf = "";
    const t = setTimeout(() => reject(new Error(`agent bench: no ${what} within ${timeoutMs / 1000} s:\n${buf.slice(-2000)}`)), timeoutMs);
    const onData = (d) => {
      buf += d;
      for (const line of buf.split("\n")) {
        if (line.startsWith("{") && pred(JSON.parse(line))) {
          clearTimeout(t);
          child.stdout.off("data", onData);
          return resolveWait();
        }
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", (d) => (buf += d));
    child.on("exit", (code) => reject(new Error(`agent bench: the agent exited (${code}) before ${what}:\n${buf.slice(-2000)}`)));
  });
}

const fmt = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : "n/a");

/**
 * @param {{ url: string, apiKey: string, seconds?: number, log?: (line: string) => void }} opts
 * @returns {Promise<{ rssMbMax: number, rssMbAvg: number, cpuPct: number, baseline: { rssMbMax: number, rssMbAvg: number, cpuPct: number }, heartbeats: number, intervalSec: number | null, seconds: number, pass: boolean }>}
 */
export async function runAgentBench({ url, apiKey, seconds = 60, log = console.log }) {
  const dir = mkdtempSync(join(tmpdir(), "mnemo-agent-bench-"));
  const config = join(dir, "agent.json");
  writeFileSync(
    config,
    JSON.stringify({
      api_url: url,
      api_key: apiKey,
      region: "bench",
      name: `bench-agent-${process.pid}`,
      endpoint_host: "127.0.0.1",
      endpoint_bind: "127.0.0.1",
      endpoint_port: 0,
    }),
  );
  const env = { ...process.env, MNEMO_API_URL: "", MNEMO_API_KEY: "" };
  delete env.MNEMO_API_URL;
  delete env.MNEMO_API_KEY;
  const agent = spawn(process.execPath, [AGENT_BIN, "start", "--config", config, "--json"], { env, stdio: ["ignore", "pipe", "pipe"] });
  const baseline = spawn(process.execPath, ["-e", "setInterval(()=>{},1000)"], { stdio: "ignore" });
  let heartbeats = 0;
  let intervalSec = null;
  agent.stdout.on("data", (d) => {
    const s = String(d);
    heartbeats += (s.match(/"event":"heartbeat"/g) ?? []).length;
    intervalSec ??= Number(/"next_heartbeat_sec":(\d+)/.exec(s)?.[1]) || null;
  });
  try {
    // Start-up (imports, registration) is a one-off; the target is the steady state.
    await waitForLine(agent, (e) => e.event === "heartbeat", 60_000, "first heartbeat");
    const counted0 = heartbeats;
    const [a, b] = await Promise.all([measure(agent.pid, seconds), measure(baseline.pid, seconds)]);
    const result = {
      ...a,
      baseline: b,
      heartbeats: heartbeats - counted0,
      intervalSec,
      seconds,
      pass: a.rssMbMax <= TARGETS.rssMb && a.cpuPct <= TARGETS.cpuPct,
    };
    log(`agent: ${result.heartbeats} heartbeats in ${seconds} s at the server's interval (${intervalSec ?? "?"} s)`);
    log(
      `agent: RSS max ${fmt(a.rssMbMax)} MB, avg ${fmt(a.rssMbAvg)} MB (target ≤ ${TARGETS.rssMb} MB) ${a.rssMbMax <= TARGETS.rssMb ? "ok" : "OVER"}`,
    );
    log(`agent: CPU ${fmt(a.cpuPct, 3)} % of a core (target ≤ ${TARGETS.cpuPct} %) ${a.cpuPct <= TARGETS.cpuPct ? "ok" : "OVER"}`);
    log(
      `baseline (bare node): RSS max ${fmt(b.rssMbMax)} MB, CPU ${fmt(b.cpuPct, 3)} %; agent/baseline RSS ×${fmt(a.rssMbMax / b.rssMbMax, 2)}, CPU ${b.cpuPct > 0 ? `×${fmt(a.cpuPct / b.cpuPct, 1)}` : `+${fmt(a.cpuPct - b.cpuPct, 3)} points`}`,
    );
    return result;
  } finally {
    agent.kill("SIGTERM");
    baseline.kill("SIGKILL");
    await new Promise((r) => (agent.exitCode !== null ? r() : agent.on("exit", r)));
    rmSync(dir, { recursive: true, force: true });
  }
}

async function provisionProvider(url) {
  const post = async (path, body, headers = {}) => {
    const r = await fetch(url + path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
    const j = await r.json();
    if (!r.ok) throw new Error(`${path}: ${r.status} ${JSON.stringify(j)}`);
    return j;
  };
  const { access_token } = await post("/api/auth/register", {
    email: `bench-${Date.now()}@agent.bench`,
    password: "bench-password-123",
    role: "provider",
  });
  return (await post("/api/auth/api-keys", { name: "agent bench" }, { authorization: `Bearer ${access_token}` })).api_key;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const seconds = Number(process.argv[2] ?? 60);
  const { startWorker } = await import("../scripts/lib/worker-server.mjs");
  // The default heartbeat interval: the worker's own default (HEARTBEAT_MIN_INTERVAL_SEC unset).
  const worker = await startWorker();
  try {
    const apiKey = await provisionProvider(worker.url);
    const r = await runAgentBench({ url: worker.url, apiKey, seconds });
    process.exitCode = r.pass ? 0 : 1;
  } finally {
    await worker.stop();
  }
}
