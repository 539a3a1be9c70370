// `npm start`: build the site, apply the migrations to the local D1, serve API + site with
// `wrangler dev` on http://localhost:8787, load the local demo market through the public API, run
// the demo nodes as real agents in this process (each serving its leases on its own loopback
// port), and run one real `mnemo-agent` for this machine. Local only: the demo accounts below
// never exist anywhere else.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, startWorker } from "./lib/worker-server.mjs";

const PORT = Number(process.env.PORT ?? 8787);
const URL_ = `http://localhost:${PORT}`;
const args = new Set(process.argv.slice(2));
const log = (...a) => console.log("[mnemo]", ...a);

export const DEMO_ACCOUNTS = {
  admin: { email: "admin@mnemo.io", password: "admin123", full_name: "Mnemo Admin" },
  provider: {
    email: "provider@example.com",
    password: "provider123",
    role: "provider",
    full_name: "Demo Provider",
    organization: "Idle Iron Ltd",
  },
  client: { email: "client@example.com", password: "client123", role: "user", full_name: "Demo Renter", organization: "Tensor Startup" },
};

export const DEMO_NODES = [
  {
    name: "paris-dc-1",
    node_type: "datacenter",
    region: "eu-west",
    latitude: 48.8566,
    longitude: 2.3522,
    total_ram_gb: 512,
    total_vram_gb: 160,
    price_per_gb_sec: 0.0000012,
    base_latency_ms: 3,
  },
  {
    name: "frankfurt-dc-1",
    node_type: "datacenter",
    region: "eu-west",
    latitude: 50.1109,
    longitude: 8.6821,
    total_ram_gb: 768,
    total_vram_gb: 320,
    price_per_gb_sec: 0.0000011,
    base_latency_ms: 3,
  },
  {
    name: "london-edge-1",
    node_type: "edge_cluster",
    region: "eu-west",
    latitude: 51.5074,
    longitude: -0.1278,
    total_ram_gb: 192,
    total_vram_gb: 48,
    price_per_gb_sec: 0.0000009,
    base_latency_ms: 4,
  },
  {
    name: "amsterdam-gamer",
    node_type: "mist_node",
    region: "eu-west",
    latitude: 52.3676,
    longitude: 4.9041,
    total_ram_gb: 32,
    total_vram_gb: 24,
    price_per_gb_sec: 0.0000006,
    base_latency_ms: 9,
  },
  {
    name: "ashburn-dc-1",
    node_type: "datacenter",
    region: "us-east",
    latitude: 39.0438,
    longitude: -77.4874,
    total_ram_gb: 1024,
    total_vram_gb: 320,
    price_per_gb_sec: 0.000001,
    base_latency_ms: 2,
  },
  {
    name: "nyc-edge-1",
    node_type: "edge_cluster",
    region: "us-east",
    latitude: 40.7128,
    longitude: -74.006,
    total_ram_gb: 256,
    total_vram_gb: 80,
    price_per_gb_sec: 0.00000085,
    base_latency_ms: 4,
  },
  {
    name: "boston-gamer",
    node_type: "mist_node",
    region: "us-east",
    latitude: 42.3601,
    longitude: -71.0589,
    total_ram_gb: 64,
    total_vram_gb: 24,
    price_per_gb_sec: 0.0000005,
    base_latency_ms: 10,
  },
  {
    name: "tokyo-dc-1",
    node_type: "datacenter",
    region: "ap-northeast",
    latitude: 35.6762,
    longitude: 139.6503,
    total_ram_gb: 512,
    total_vram_gb: 192,
    price_per_gb_sec: 0.0000013,
    base_latency_ms: 3,
  },
  {
    name: "osaka-edge-1",
    node_type: "edge_cluster",
    region: "ap-northeast",
    latitude: 34.6937,
    longitude: 135.5023,
    total_ram_gb: 128,
    total_vram_gb: 48,
    price_per_gb_sec: 0.000001,
    base_latency_ms: 5,
  },
  {
    name: "seoul-gamer",
    node_type: "mist_node",
    region: "ap-northeast",
    latitude: 37.5665,
    longitude: 126.978,
    total_ram_gb: 64,
    total_vram_gb: 16,
    price_per_gb_sec: 0.0000007,
    base_latency_ms: 8,
  },
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
    const r = await call(
      url,
      "POST",
      "/api/nodes/register",
      { ...n, bandwidth_mbps: bandwidthOf(n), metadata: { demo: true, simulated: SIMULATED_NOTE } },
      provider.access_token,
    );
    if (r.status !== 201) throw new Error(`could not register ${n.name}: ${JSON.stringify(r.body)}`);
    nodes.push(r.body.node);
  }
  if (client.created) {
    await call(
      url,
      "PUT",
      "/api/auth/me/client",
      { default_region: "eu-west", latitude: 48.85, longitude: 2.35, org_name: "Tensor Startup" },
      client.access_token,
    );
    const c = await call(
      url,
      "POST",
      "/api/admin/credits",
      { user_id: client.user.id, amount_usd: 100, reason: "demo credit" },
      admin.access_token,
    );
    if (c.status !== 201) throw new Error(`could not credit the demo renter: ${JSON.stringify(c.body)}`);
  }
  return { admin, provider, client, nodes };
}

const bandwidthOf = (n) => (n.node_type === "mist_node" ? 500 : 10_000);
const SIMULATED_NOTE = "demo node: its RAM is a promise (bytes are allocated only as renters write them) and its VRAM is host memory";

/**
 * The demo fleet as real agents: one `Agent` per demo node in this process, each with its own
 * lease endpoint on 127.0.0.1 (a free port), its push channel and its heartbeats, so a contract
 * rented on the site is served at once. Their capacities are simulated (a 512 GB datacenter on a
 * laptop): the quota is a promise, since the lease server allocates only what renters write, and
 * VRAM leases are backed by host memory (`simulate_vram_gb`), labelled as such on the node.
 */
export async function startDemoFleet(url, provider, nodes) {
  const build = spawnSync(process.execPath, [join(ROOT, "agent/scripts/build.mjs"), "--quiet"], { cwd: ROOT, encoding: "utf8" });
  if (build.status !== 0) throw new Error(`could not build the agent: ${build.stderr || build.stdout}`);
  const dist = (f) => pathToFileURL(join(ROOT, "agent/dist", f)).href;
  const { Agent } = await import(dist("agent.js"));
  const { validateConfig } = await import(dist("config.js"));
  const { Hardware } = await import(dist("hardware.js"));
  const key = await call(url, "POST", "/api/auth/api-keys", { name: "demo fleet (npm start)" }, provider.access_token);
  if (key.status !== 201) throw new Error(`could not create the demo fleet's API key: ${JSON.stringify(key.body)}`);
  // Configs hold an API key: a private temp folder, removed at exit.
  const dir = mkdtempSync(join(tmpdir(), "mnemo-demo-fleet-"));
  const stop = new AbortController();
  const hardware = new Hardware(); // one machine under all of them: sample it once
  const QUIET = new Set(["heartbeat", "api_reachable", "rate_limited", "lease_connection", "lease_auth"]);
  const runs = [];
  for (const node of nodes) {
    const spec = DEMO_NODES.find((d) => d.name === node.name) ?? node;
    const raw = {
      api_url: url,
      api_key: key.body.api_key,
      node_id: node.id,
      name: node.name,
      node_type: spec.node_type,
      region: spec.region,
      latitude: spec.latitude,
      longitude: spec.longitude,
      price_per_gb_sec: spec.price_per_gb_sec,
      bandwidth_mbps: bandwidthOf(spec),
      base_latency_ms: spec.base_latency_ms,
      reserve_ram_gb: 0,
      simulate_ram_gb: spec.total_ram_gb,
      simulate_vram_gb: spec.total_vram_gb,
      endpoint_host: "127.0.0.1",
      endpoint_bind: "127.0.0.1",
      endpoint_port: 0,
    };
    const configPath = join(dir, `${node.name}.json`);
    writeFileSync(configPath, JSON.stringify(raw, null, 2), { mode: 0o600 });
    const say = (level, event, msg) => {
      if (level === "info" && QUIET.has(event)) return;
      console.log(`[${node.name}] ${level === "info" ? "" : `${level}: `}${msg}`);
    };
    const logger = {
      json: false,
      log: say,
      info: (e, m) => say("info", e, m),
      warn: (e, m) => say("warn", e, m),
      error: (e, m) => say("error", e, m),
    };
    const agent = new Agent({ config: validateConfig(raw, configPath), configPath, logger, signal: stop.signal, hardware });
    runs.push(agent.run().catch((e) => console.log(`[${node.name}] stopped: ${e.message}`)));
  }
  return {
    size: nodes.length,
    stop: async () => {
      stop.abort();
      await Promise.race([Promise.all(runs), new Promise((r) => setTimeout(r, 6000))]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
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
  const init = spawnSync(
    process.execPath,
    [
      bin,
      "init",
      "--config",
      config,
      "--force",
      "--api-url",
      url,
      "--api-key",
      key.body.api_key,
      "--region",
      "eu-west",
      "--name",
      "this-machine",
      "--latitude",
      "52.52",
      "--longitude",
      "13.405",
    ],
    { cwd: ROOT, encoding: "utf8" },
  );
  if (init.status !== 0) {
    log("could not configure the demo agent:", init.stderr || init.stdout);
    return null;
  }
  // Local demo: serve this machine's leases on loopback, on any free port (7379 may be taken).
  const written = JSON.parse(readFileSync(config, "utf8"));
  writeFileSync(config, JSON.stringify({ ...written, endpoint_host: "127.0.0.1", endpoint_bind: "127.0.0.1", endpoint_port: 0 }, null, 2), {
    mode: 0o600,
  });
  const child = spawn(process.execPath, [bin, "start", "--config", config], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const prefix = (d) =>
    process.stdout.write(
      d
        .toString()
        .split("\n")
        .filter(Boolean)
        .map((l) => `[agent] ${l}\n`)
        .join(""),
    );
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
  const worker = await startWorker({
    port: PORT,
    persistTo,
    vars: { JWT_SECRET: localSecret(), ADMIN_EMAILS: DEMO_ACCOUNTS.admin.email },
    log: (l) => !/Request\.cf|workers\.cloudflare\.com|GetAddrInfoReqWrap/i.test(l) && console.log(`[worker] ${l}`),
  });
  const url = URL_;
  log("loading the demo market…");
  const demo = await seed(url);
  if (args.has("--seed-only")) {
    await worker.stop();
    return;
  }
  log(`starting the demo fleet: ${demo.nodes.length} agents, each serving leases on its own 127.0.0.1 port…`);
  const fleet = await startDemoFleet(url, demo.provider, demo.nodes);
  const agent = args.has("--no-agent") ? null : await startDemoAgent(url, demo.provider);
  console.log(`
  Mnemo is running at ${url}
    site            ${url}/
    API reference   ${url}/docs
    health          ${url}/health
  Demo accounts (local only): admin@mnemo.io / admin123, provider@example.com / provider123,
  client@example.com / client123 (credited $100). ${demo.nodes.length} demo nodes in 3 regions, each a real
  agent serving its leases on 127.0.0.1 (simulated capacity: a quota is a promise, VRAM is host
  memory)${agent ? ", plus this machine through mnemo-agent" : ""}.
  Rent memory on the site (or POST /api/contracts/create), then:
    redis-cli -u "$(curl -s -H "authorization: Bearer <token>" ${url}/api/contracts/<id>/lease | jq -r .url)" PING
  Ctrl-C stops everything.
`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    if (agent) agent.kill("SIGTERM");
    await Promise.all([
      fleet.stop(),
      agent ? new Promise((r) => (agent.exitCode !== null ? r() : (agent.on("exit", r), setTimeout(r, 6000)))) : null,
    ]);
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
