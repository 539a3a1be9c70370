// `npm start`: build the site, apply the migrations to the local D1, serve API + site with
// `wrangler dev` on http://localhost:8787, load the local demo market through the public API, keep
// the demo nodes heartbeating, and run one real `mnemo-agent` against it. Local only: the demo
// accounts below never exist anywhere else.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { ROOT, startWorker } from "./lib/worker-server.mjs";

const PORT = Number(process.env.PORT ?? 8787);
const URL_ = `http://localhost:${PORT}`;
const args = new Set(process.argv.slice(2));
const log = (...a) => console.log("[mnemo]", ...a);

export const DEMO_ACCOUNTS = {
  admin: { email: "admin@mnemo.io", password: "admin123", full_name: "Mnemo Admin" },
  provider: { email: "provider@example.com", password: "provider123", role: "provider", full_name: "Demo Provider", organization: "Idle Iron Ltd" },
  client: { email: "client@example.com", password: "client123", role: "user", full_name: "Demo Renter", organization: "Tensor Startup" },
};

export const DEMO_NODES = [
  { name: "paris-dc-1", node_type: "datacenter", region: "eu-west", latitude: 48.8566, longitude: 2.3522, total_ram_gb: 512, total_vram_gb: 160, price_per_gb_sec: 0.0000012, base_latency_ms: 3 },
  { name: "frankfurt-dc-1", node_type: "datacenter", region: "eu-west", latitude: 50.1109, longitude: 8.6821, total_ram_gb: 768, total_vram_gb: 320, price_per_gb_sec: 0.0000011, base_latency_ms: 3 },
  { name: "london-edge-1", node_type: "edge_cluster", region: "eu-west", latitude: 51.5074, longitude: -0.1278, total_ram_gb: 192, total_vram_gb: 48, price_per_gb_sec: 0.0000009, base_latency_ms: 4 },
  { name: "amsterdam-gamer", node_type: "mist_node", region: "eu-west", latitude: 52.3676, longitude: 4.9041, total_ram_gb: 32, total_vram_gb: 24, price_per_gb_sec: 0.0000006, base_latency_ms: 9 },
  { name: "ashburn-dc-1", node_type: "datacenter", region: "us-east", latitude: 39.0438, longitude: -77.4874, total_ram_gb: 1024, total_vram_gb: 320, price_per_gb_sec: 0.000001, base_latency_ms: 2 },
  { name: "nyc-edge-1", node_type: "edge_cluster", region: "us-east", latitude: 40.7128, longitude: -74.006, total_ram_gb: 256, total_vram_gb: 80, price_per_gb_sec: 0.00000085, base_latency_ms: 4 },
  { name: "boston-gamer", node_type: "mist_node", region: "us-east", latitude: 42.3601, longitude: -71.0589, total_ram_gb: 64, total_vram_gb: 24, price_per_gb_sec: 0.0000005, base_latency_ms: 10 },
  { name: "tokyo-dc-1", node_type: "datacenter", region: "ap-northeast", latitude: 35.6762, longitude: 139.6503, total_ram_gb: 512, total_vram_gb: 192, price_per_gb_sec: 0.0000013, base_latency_ms: 3 },
  { name: "osaka-edge-1", node_type: "edge_cluster", region: "ap-northeast", latitude: 34.6937, longitude: 135.5023, total_ram_gb: 128, total_vram_gb: 48, price_per_gb_sec: 0.000001, base_latency_ms: 5 },
  { name: "seoul-gamer", node_type: "mist_node", region: "ap-northeast", latitude: 37.5665, longitude: 126.978, total_ram_gb: 64, total_vram_gb: 16, price_per_gb_sec: 0.0000007, base_latency_ms: 8 },
];

async function call(url, method, path, body, token) {
  const res = await fetch(url + path, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {}
  return { status: res.status, body: json, headers: res.headers };
}

async function session(url, account) {
  const login = await call(url, "POST", "/api/auth/login", { email: account.email, password: account.password });
  if (login.status === 200) return { ...login.body, created: false };
  const reg = await call(url, "POST", "/api/auth/register", account);
  if (reg.status !== 201) throw new Error(`could not create ${account.email}: ${JSON.stringify(reg.body)}`);
  return { ...reg.body, created: true };
}

/** Loads the demo market through the public API (idempotent: a second run adds nothing). */
export async function seed(url) {
  const admin = await session(url, DEMO_ACCOUNTS.admin);
  const provider = await session(url, DEMO_ACCOUNTS.provider);
  const client = await session(url, DEMO_ACCOUNTS.client);
  const mine = await call(url, "GET", "/api/nodes?mine=true&limit=500", undefined, provider.access_token);
  const have = new Map((mine.body?.nodes ?? []).map((n) => [n.name, n]));
  const nodes = [];
  for (const n of DEMO_NODES) {
    if (have.has(n.name)) {
      nodes.push(have.get(n.name));
      continue;
    }
    const r = await call(url, "POST", "/api/nodes/register", { ...n, bandwidth_mbps: n.node_type === "mist_node" ? 500 : 10_000, metadata: { demo: true } }, provider.access_token);
    if (r.status !== 201) throw new Error(`could not register ${n.name}: ${JSON.stringify(r.body)}`);
    nodes.push(r.body.node);
  }
  if (client.created) {
    await call(url, "PUT", "/api/auth/me/client", { default_region: "eu-west", latitude: 48.85, longitude: 2.35, org_name: "Tensor Startup" }, client.access_token);
    const c = await call(url, "POST", "/api/admin/credits", { user_id: client.user.id, amount_usd: 100, reason: "demo credit" }, admin.access_token);
    if (c.status !== 201) throw new Error(`could not credit the demo renter: ${JSON.stringify(c.body)}`);
  }
  return { admin, provider, client, nodes };
}

/** Demo nodes stand in for agents: they report themselves idle every interval so they stay online. */
function keepDemoFleetAlive(url, provider, nodes) {
  let token = provider.access_token;
  const beat = async () => {
    for (const n of nodes) {
      let r = await call(url, "POST", `/api/nodes/${n.id}/heartbeat`, { available_ram_gb: n.total_ram_gb, available_vram_gb: n.total_vram_gb, cpu_usage_pct: 5 + Math.random() * 20, gpu_usage_pct: Math.random() * 10, temperature_c: 40 + Math.random() * 15 }, token).catch(() => null);
      if (r?.status === 401) {
        token = (await session(url, DEMO_ACCOUNTS.provider)).access_token;
        r = await call(url, "POST", `/api/nodes/${n.id}/heartbeat`, { available_ram_gb: n.total_ram_gb, available_vram_gb: n.total_vram_gb }, token).catch(() => null);
      }
    }
  };
  beat();
  return setInterval(beat, 30_000);
}

async function startDemoAgent(url, provider) {
  const key = await call(url, "POST", "/api/auth/api-keys", { name: "demo agent (npm start)" }, provider.access_token);
  const config = join(ROOT, ".mnemo-agent.demo.json");
  const bin = join(ROOT, "agent", "bin", "mnemo-agent.mjs");
  // A config kept from an older local database may name a node this provider no longer owns:
  // start that agent afresh instead of letting it stop on a 403.
  if (existsSync(config)) {
    const saved = JSON.parse(readFileSync(config, "utf8"));
    const mine = await call(url, "GET", "/api/nodes?mine=true&limit=500", undefined, provider.access_token);
    if (saved.node_id && !(mine.body?.nodes ?? []).some((n) => n.id === saved.node_id)) rmSync(config);
  }
  const init = spawnSync(process.execPath, [bin, "init", "--config", config, "--force", "--api-url", url, "--api-key", key.body.api_key, "--region", "eu-west", "--name", "this-machine", "--latitude", "52.52", "--longitude", "13.405"], { cwd: ROOT, encoding: "utf8" });
  if (init.status !== 0) {
    log("could not configure the demo agent:", init.stderr || init.stdout);
    return null;
  }
  const child = spawn(process.execPath, [bin, "start", "--config", config], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const prefix = (d) => process.stdout.write(d.toString().split("\n").filter(Boolean).map((l) => `[agent] ${l}\n`).join(""));
  child.stdout.on("data", prefix);
  child.stderr.on("data", prefix);
  return child;
}

function localSecret() {
  // wrangler dev reads .dev.vars; a random secret per clone, never committed (.gitignore).
  const file = join(ROOT, ".dev.vars");
  if (!existsSync(file)) writeFileSync(file, `JWT_SECRET=${randomBytes(32).toString("hex")}\n`);
  const m = /^JWT_SECRET=(.+)$/m.exec(readFileSync(file, "utf8"));
  return m ? m[1].trim() : randomBytes(32).toString("hex");
}

async function main() {
  if (!args.has("--no-build")) {
    log("building the site…");
    const b = spawnSync("npm", ["run", "--silent", "build"], { cwd: ROOT, stdio: "inherit" });
    if (b.status !== 0) process.exit(b.status ?? 1);
  }
  const persistTo = join(ROOT, ".wrangler", "state");
  mkdirSync(persistTo, { recursive: true });
  log(`starting the worker (wrangler dev, local D1, Durable Objects, Queues) on ${URL_} …`);
  const worker = await startWorker({ port: PORT, persistTo, vars: { JWT_SECRET: localSecret(), ADMIN_EMAILS: DEMO_ACCOUNTS.admin.email }, log: (l) => !/Request\.cf|workers\.cloudflare\.com|GetAddrInfoReqWrap/i.test(l) && console.log(`[worker] ${l}`) });
  const url = URL_;
  log("loading the demo market…");
  const demo = await seed(url);
  if (args.has("--seed-only")) {
    await worker.stop();
    return;
  }
  const timer = keepDemoFleetAlive(url, demo.provider, demo.nodes);
  const agent = args.has("--no-agent") ? null : await startDemoAgent(url, demo.provider);
  console.log(`
  Mnemo is running at ${url}
    site            ${url}/
    API reference   ${url}/docs
    health          ${url}/health
  Demo accounts (local only): admin@mnemo.io / admin123, provider@example.com / provider123,
  client@example.com / client123 (credited $100). ${demo.nodes.length} demo nodes in 3 regions${agent ? ", plus this machine through mnemo-agent" : ""}.
  Ctrl-C stops everything.
`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    if (agent) {
      agent.kill("SIGTERM");
      await new Promise((r) => setTimeout(r, 3000));
    }
    await worker.stop();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e) => {
    console.error("[mnemo]", e.message ?? e);
    process.exit(1);
  });
}
