/**
 * `mnemo`, the renter's CLI, run as a process exactly as a user runs it in a shell, against the
 * real worker (`wrangler dev`, fresh local D1) and, for renting, a real agent holding the lease.
 * Stripe is the only fake (worker/test/stripe-server.ts): payments need a real card otherwise.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_ROOT, loopbackConfig, runAgent, type AgentProcess } from "./helpers.ts";
import { api, freePort, type Json, startWorker, until, type Worker } from "./support/worker.ts";

const MNEMO = join(AGENT_ROOT, "bin/mnemo.mjs");
const STRIPE_SERVER = join(AGENT_ROOT, "../worker/test/stripe-server.ts");
const ADMIN_EMAIL = "admin@mnemo-cli.test";
const RENTER_EMAIL = "renter@mnemo-cli.test";
const PASSWORD = "renter-secret-horse-4711";

let worker: Worker;
let stripe: { close: (cb: () => void) => void };
let providerKey: string;
let adminToken: string;
const running: AgentProcess[] = [];
/** Every secret the CLI handled: none may ever be printed. */
const secrets = new Set<string>([PASSWORD]);

const { ok } = api(() => worker.url);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** One `mnemo` command, as a shell runs it: its own config home, MNEMO_API_URL set, no MNEMO_TOKEN unless given. */
function mnemo(
  args: string[],
  opts: { home: string; env?: Record<string, string | undefined>; input?: string; timeoutMs?: number },
): Promise<Run> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({
    ...process.env,
    MNEMO_TOKEN: undefined,
    MNEMO_API_URL: worker.url,
    XDG_CONFIG_HOME: opts.home,
    ...opts.env,
  }))
    if (v !== undefined) env[k] = v;
  const child = spawn(process.execPath, [MNEMO, ...args], { env, stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
  return new Promise((resolve, reject) =>
    child.on("exit", (code) => {
      clearTimeout(timer);
      // Checked on every run: the CLI never prints a password or an access token.
      for (const s of secrets)
        if (stdout.includes(s) || stderr.includes(s))
          return reject(new Error(`mnemo ${args.join(" ")} printed a secret:\n${stdout}\n${stderr}`));
      resolve({ code, stdout, stderr });
    }),
  );
}

function json(r: Run): Json {
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return JSON.parse(r.stdout);
}

const newHome = () => mkdtempSync(join(tmpdir(), "mnemo-cli-home-"));

/** A logged-in renter's config home (via the CLI itself). */
async function loggedIn(email = RENTER_EMAIL): Promise<string> {
  const home = newHome();
  const r = await mnemo(["login", "--email", email, "--password-stdin"], { home, input: `${PASSWORD}\n` });
  expect(r.code, r.stderr).toBe(0);
  const token = JSON.parse(readFileSync(join(home, "mnemo/session.json"), "utf8")).access_token as string;
  secrets.add(token);
  return home;
}

/** A real agent offering this machine's memory in `region`, once it has sent its first heartbeat. */
async function agentIn(region: string): Promise<AgentProcess> {
  const config = loopbackConfig({ api_url: worker.url, api_key: providerKey, region, name: `${region}-agent`, reserve_ram_gb: 1 });
  const agent = runAgent(["start", "--config", config, "--json"]);
  running.push(agent);
  await agent.waitForEvent((e) => e.event === "heartbeat", `the ${region} agent's first heartbeat`, 60_000);
  return agent;
}

const NODES = [
  {
    name: "cli-A1",
    node_type: "datacenter",
    region: "cli-a",
    total_ram_gb: 64,
    total_vram_gb: 0,
    price_per_gb_sec: 0.000001,
    latitude: 40.7,
    longitude: -74.0,
    base_latency_ms: 2,
  },
  {
    name: "cli-A2",
    node_type: "mist_node",
    region: "cli-a",
    total_ram_gb: 16,
    total_vram_gb: 8,
    price_per_gb_sec: 0.0000005,
    latitude: 40.8,
    longitude: -74.1,
    base_latency_ms: 9,
  },
  {
    name: "cli-B1",
    node_type: "edge_cluster",
    region: "cli-b",
    total_ram_gb: 32,
    total_vram_gb: 24,
    price_per_gb_sec: 0.000002,
    latitude: 34.0,
    longitude: -118.2,
    base_latency_ms: 5,
  },
] as const;
const nodeIds: Record<string, string> = {};

beforeAll(async () => {
  const { startStripeServer } = (await import(STRIPE_SERVER)) as { startStripeServer: (port: number) => Promise<typeof stripe> };
  const stripePort = await freePort();
  stripe = await startStripeServer(stripePort);
  worker = await startWorker({
    HEARTBEAT_MIN_INTERVAL_SEC: "1",
    ADMIN_EMAILS: ADMIN_EMAIL,
    STRIPE_API_BASE: `http://127.0.0.1:${stripePort}`,
    STRIPE_SECRET_KEY: "sk_test_mnemo_fake_0123456789",
    STRIPE_WEBHOOK_SECRET: "whsec_test_mnemo_0123456789",
  });
  const provider = await ok("POST", "/api/auth/register", { email: "provider@mnemo-cli.test", password: PASSWORD, role: "provider" });
  providerKey = (await ok("POST", "/api/auth/api-keys", { name: "cli-test" }, { authorization: `Bearer ${provider.access_token}` }))
    .api_key;
  for (const n of NODES) {
    nodeIds[n.name] = (await ok("POST", "/api/nodes/register", { ...n, bandwidth_mbps: 1000 }, { "x-api-key": providerKey })).node_id;
  }
  const renter = await ok("POST", "/api/auth/register", { email: RENTER_EMAIL, password: PASSWORD, role: "user" });
  adminToken = (await ok("POST", "/api/auth/register", { email: ADMIN_EMAIL, password: PASSWORD })).access_token;
  await ok(
    "POST",
    "/api/admin/credits",
    { user_id: renter.user.id, amount_usd: 50, reason: "cli tests" },
    { authorization: `Bearer ${adminToken}` },
  );
}, 180_000);

afterAll(async () => {
  for (const p of running) p.kill("SIGKILL");
  await worker?.stop();
  await new Promise<void>((r) => (stripe ? stripe.close(() => r()) : r()));
});

describe("mnemo: help and usage", () => {
  it("every command has --help with examples, and `help <command>` prints the same", async () => {
    const home = newHome();
    const main = await mnemo(["--help"], { home });
    expect(main.code).toBe(0);
    for (const cmd of [
      "login",
      "logout",
      "whoami",
      "offers search",
      "match",
      "rent",
      "contracts list",
      "lease",
      "balance",
      "topup",
      "ledger",
    ])
      expect(main.stdout).toContain(`mnemo ${cmd}`);
    for (const cmd of ["login", "whoami", "offers", "match", "rent", "contracts", "lease", "balance", "topup", "ledger", "logout"]) {
      const viaFlag = await mnemo(cmd === "offers" ? ["offers", "search", "--help"] : [cmd, "--help"], { home });
      expect(viaFlag.code, cmd).toBe(0);
      expect(viaFlag.stdout).toMatch(new RegExp(`^mnemo ${cmd}`));
      expect(viaFlag.stdout).toContain("--explain");
      if (!["logout", "balance", "ledger"].includes(cmd)) expect(viaFlag.stdout, cmd).toMatch(/Examples?:\n {2}\S/);
      expect((await mnemo(["help", cmd], { home })).stdout).toBe(viaFlag.stdout);
    }
  });

  it("npx mnemo works from the repository root (the workspace links the bin)", () => {
    const out = execFileSync("npx", ["--no-install", "mnemo", "--version"], {
      cwd: join(AGENT_ROOT, ".."),
      encoding: "utf8",
      env: { ...process.env, npm_config_loglevel: "error" },
    });
    expect(out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("usage errors exit 2 with one line naming the problem, before any request", async () => {
    const home = newHome();
    const cases: Array<[string[], RegExp]> = [
      [["frobnicate"], /Unknown command "frobnicate"/],
      [["help", "constructor"], /Unknown command "constructor"/],
      [["offers", "search", "--bogus"], /--bogus/],
      [["rent", "--ram", "1"], /--duration is required/],
      [["rent", "--ram", "1", "--duration", "10 minutes"], /--duration must be a duration like 90s, 10m, 2h or 1d, got "10 minutes"/],
      [["match", "--duration", "1h"], /--ram is required/],
      [["match", "--ram", "0", "--duration", "1h"], /more than 0/],
      [["contracts", "show", "abc"], /"abc" is not a contract ID/],
      [["contracts", "extend", "00000000-0000-4000-8000-000000000000", "--by", "1w"], /--by must be a duration/],
      [["contracts", "list", "--by", "1m"], /does not take --by/],
      [["contracts", "list", "--limit", "501"], /--limit must be at most 500, got 501/],
      [["ledger", "--limit", "0"], /--limit must be a whole number ≥ 1, got "0"/],
      [["match", "--ram", "1", "--duration", "1h", "--limit", "101"], /--limit must be at most 100, got 101/],
      [["contracts", "list", "--status", "running"], /--status must be one of/],
      [["topup", "--amount", "0.001", "--payment-method", "pm_card_visa"], /whole cents/],
      [["topup", "--amount", "5"], /--payment-method is required/],
      [["login"], /not a terminal/],
      [["offers", "search", "-o", "colour"], /Unknown sort field "colour"/],
      [["whoami", "--api-url", "ftp://x"], /--api-url must be an http\(s\) URL/],
    ];
    for (const [args, msg] of cases) {
      const r = await mnemo(args, { home });
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(msg);
      expect(r.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
      expect(r.stdout).toBe("");
    }
  });

  it("durations accept 90s, 10m, 2h, 1d (the match request carries the seconds)", async () => {
    const home = await loggedIn();
    for (const [text, sec] of [
      ["90s", 90],
      ["10m", 600],
      ["2h", 7200],
      ["1d", 86400],
    ] as const) {
      const r = await mnemo(["match", "--ram", "1", "--duration", text, "--explain", "--json"], { home });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`"duration_sec":${sec}`);
    }
  });
});

describe("mnemo: login, whoami, logout", () => {
  it("logs in from standard input, stores the session 0600 in a 0700 directory, and whoami uses it", async () => {
    const home = newHome();
    const r = await mnemo(["login", "--email", RENTER_EMAIL, "--password-stdin", "--explain"], { home, input: `${PASSWORD}\n` });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`as ${RENTER_EMAIL} (user)`);
    // --explain shows the login request with the password masked.
    expect(r.stderr).toContain(`> POST ${worker.url}/api/auth/login {"email":"${RENTER_EMAIL}","password":"***"}`);
    const path = join(home, "mnemo/session.json");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, "mnemo")).mode & 0o777).toBe(0o700);
    const session = JSON.parse(readFileSync(path, "utf8"));
    secrets.add(session.access_token);
    expect(session).toMatchObject({ api_url: worker.url, user: { email: RENTER_EMAIL, role: "user" } });

    const who = await mnemo(["whoami", "--json"], { home });
    expect(who.code).toBe(0);
    const me = json(who);
    expect(me).toMatchObject({ user: { email: RENTER_EMAIL }, api_url: worker.url, token_source: "session" });
    expect(me.client.id).toMatch(/^[0-9a-f-]{36}$/);
    const human = await mnemo(["whoami"], { home });
    expect(human.stdout).toContain(`${RENTER_EMAIL} (user)`);
    expect(human.stdout).toContain(`client id  ${me.client.id}`);

    // MNEMO_TOKEN overrides the stored session; a different API never gets the stored token.
    const viaEnv = await mnemo(["whoami", "--json"], { home: newHome(), env: { MNEMO_TOKEN: session.access_token } });
    expect(json(viaEnv).token_source).toBe("MNEMO_TOKEN");
    const elsewhere = await mnemo(["whoami", "--api-url", "http://127.0.0.1:9"], { home });
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toContain("your session is for");

    const out = await mnemo(["logout"], { home });
    expect(out.code).toBe(0);
    expect(out.stdout).toContain("Logged out");
    const after = await mnemo(["whoami"], { home });
    expect(after.code).toBe(1);
    expect(after.stderr).toBe("mnemo: Not logged in: run mnemo login, or set MNEMO_TOKEN.\n");
  });

  it("an expired stored session is never sent: the CLI says so and exits 1", async () => {
    const home = await loggedIn();
    const path = join(home, "mnemo/session.json");
    const session = JSON.parse(readFileSync(path, "utf8"));
    writeFileSync(path, JSON.stringify({ ...session, expires_at: "2000-01-01T00:00:00.000Z" }), { mode: 0o600 });
    const r = await mnemo(["balance", "--explain"], { home });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("mnemo: Your session expired at 2000-01-01T00:00:00.000Z: run mnemo login.\n"); // and no request was made
  });

  it("a wrong password is the API's refusal: exit 1 with its message, nothing stored", async () => {
    const home = newHome();
    const r = await mnemo(["login", "--email", RENTER_EMAIL, "--password-stdin"], { home, input: "not-the-password\n" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^mnemo: .+ \(unauthenticated, HTTP 401\)/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(() => statSync(join(home, "mnemo/session.json"))).toThrow();
  });

  // `script` gives the CLI a pseudo-terminal, so login prompts as it would for a person.
  it("at a terminal, prompts for the email and the password, without echoing the password", async () => {
    execFileSync("script", ["-qc", "true", "/dev/null"], { stdio: "ignore" }); // util-linux's script is part of the test setup
    const home = newHome();
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(MNEMO)} login --api-url ${worker.url}`;
    const child = spawn("script", ["-qc", cmd, "/dev/null"], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, XDG_CONFIG_HOME: home, MNEMO_TOKEN: "" },
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on("exit", r));
    const waitFor = (re: RegExp) => until(async () => re.test(out), `${re} in:\n${out}`, 20_000);
    await waitFor(/Email: /);
    child.stdin.write(`${RENTER_EMAIL}\r`);
    await waitFor(/Password: /);
    child.stdin.write(`${PASSWORD}\r`);
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    expect(await exited).toBe(0);
    clearTimeout(timer);
    expect(out).toContain(RENTER_EMAIL); // the email is echoed, as typed
    expect(out).not.toContain(PASSWORD);
    expect(out).toContain(`Logged in to ${worker.url} as ${RENTER_EMAIL}`);
    expect(statSync(join(home, "mnemo/session.json")).mode & 0o777).toBe(0o600);
    secrets.add(JSON.parse(readFileSync(join(home, "mnemo/session.json"), "utf8")).access_token);
  });
});

describe("mnemo offers search: the query grammar against the server", () => {
  const ours = (offers: Json[]) =>
    offers
      .map((o) => o.node_name as string)
      .filter((n) => n.startsWith("cli-"))
      .sort();

  // [query, extra flags, the nodes the server's answer leaves, what goes to the server, what is applied here]
  const VALID: Array<[string, string[], string[], Record<string, unknown>, string[]]> = [
    ["", [], ["cli-A1", "cli-A2", "cli-B1"], {}, []],
    ["ram_gb>=32", [], ["cli-A1", "cli-B1"], { min_ram_gb: 32 }, []],
    ["ram_gb>32", [], ["cli-A1"], { min_ram_gb: 33 }, []],
    ["ram_gb<32", [], ["cli-A2"], {}, ["ram_gb<32"]],
    ["ram_gb=64", [], ["cli-A1"], {}, ["ram_gb=64"]],
    ["vram_gb>=8 ram_gb<=32", [], ["cli-A2", "cli-B1"], { min_vram_gb: 8 }, ["ram_gb<=32"]],
    ["price<=0.000001", [], ["cli-A1", "cli-A2"], { max_price_per_gb_sec: 0.000001 }, []],
    ["price<0.000001", [], ["cli-A2"], {}, ["price<0.000001"]],
    ["region=cli-a", [], ["cli-A1", "cli-A2"], { region: "cli-a" }, []],
    ["region!=cli-a", [], ["cli-B1"], {}, ["region!=cli-a"]],
    ["type=mist_node", [], ["cli-A2"], { node_type: "mist_node" }, []],
    ["type!=mist_node region=cli-a", [], ["cli-A1"], { region: "cli-a" }, ["type!=mist_node"]],
    ["distance<=100", ["--lat", "40.7", "--lng=-74.0"], ["cli-A1", "cli-A2"], { max_distance_km: 100 }, []],
    ["distance>100", ["--lat", "40.7", "--lng=-74.0"], ["cli-B1"], {}, ["distance>100"]],
    ["uptime>=0 latency<5", [], ["cli-A1"], { min_uptime_score: 0 }, ["latency<5"]],
    ["name=cli-B1", [], ["cli-B1"], {}, ["name=cli-B1"]],
    ["ram_gb>=8 ram_gb>=20", [], ["cli-A1", "cli-B1"], { min_ram_gb: 8 }, ["ram_gb>=20"]],
  ];

  it.each(VALID)("%s %j → %j", async (query, flags, names, server, local) => {
    const home = newHome(); // the marketplace is public: no login needed
    const r = await mnemo(["offers", "search", query, ...flags, "--json"], { home });
    expect(r.code, r.stderr).toBe(0);
    const body = json(r);
    expect(ours(body.offers)).toEqual(names);
    expect(body.filters).toEqual({ server, local });
  });

  const INVALID: Array<[string, RegExp]> = [
    ["foo=1", /Unknown query field "foo"/],
    ["ram_gb>=lots", /query field "ram_gb": "lots" is not a whole number/],
    ["ram_gb>=1.5", /query field "ram_gb": "1.5" is not a whole number/],
    ["vram_gb>=-1", /query field "vram_gb": -1 is outside/],
    ["price<=2", /query field "price": 2 is outside 0\.\.1/],
    ["uptime>=101", /query field "uptime"/],
    ["type=laptop", /query field "type": "laptop" \(one of datacenter, edge_cluster, mist_node\)/],
    ["region<cli-a", /"region" takes only = or !=/],
    ["region=eu/west", /query field "region"/],
    ["node_id=42", /"node_id": "42" is not a UUID/],
    ["ram_gb", /Cannot read the query term "ram_gb"/],
    ["ram_gb>=8 and", /Cannot read the query term "and"/],
    ["distance<=100", /"distance" needs your location/],
  ];

  it.each(INVALID)("%s exits 2 naming it", async (query, msg) => {
    const r = await mnemo(["offers", "search", query], { home: newHome() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(msg);
    expect(r.stdout).toBe("");
  });

  it("human output: a table, and the filters applied here are shown, never dropped; -o sorts", async () => {
    const r = await mnemo(["offers", "search", "ram_gb<=32 region=cli-a", "-o", "price-"], { home: newHome() });
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")[0]).toMatch(/^NODE\s+NAME\s+TYPE\s+REGION\s+RAM_GB/);
    expect(r.stdout).toContain("cli-A2");
    expect(r.stdout).not.toContain("cli-A1");
    expect(r.stderr).toContain("Filters sent to the API: region=cli-a");
    expect(r.stderr).toContain("Filters applied here (the API has no such filter): ram_gb<=32");
    const sorted = json(await mnemo(["offers", "search", "region=cli-a", "-o", "price-", "--json"], { home: newHome() }));
    expect(sorted.offers.map((o: Json) => o.node_name)).toEqual(["cli-A1", "cli-A2"]);
    const asc = json(await mnemo(["offers", "search", "region=cli-a", "-o", "price", "--json", "--limit", "1"], { home: newHome() }));
    expect(asc.offers.map((o: Json) => o.node_name)).toEqual(["cli-A2"]);
  });
});

describe("mnemo match", () => {
  it("shows the scored matches with their breakdown; the query's server filters go in the request", async () => {
    const home = await loggedIn();
    const r = await mnemo(
      ["match", "region=cli-a type=mist_node", "--ram", "4", "--vram", "2", "--duration", "1h", "--json", "--explain"],
      { home },
    );
    expect(r.code, r.stderr).toBe(0);
    const body = json(r);
    expect(body.filters).toEqual({ server: { region: "cli-a" }, local: ["type=mist_node"] });
    expect(body.matches.map((m: Json) => m.node_name)).toEqual(["cli-A2"]);
    const m = body.matches[0];
    expect(Object.keys(m.score_breakdown).sort()).toEqual(["capacity", "node_type", "price", "proximity", "reliability"]);
    expect(m.score_breakdown.node_type).toBe(20);
    // (4 + 2) GB × 3600 s × 0.0000005 USD
    expect(m.estimated_cost).toBeCloseTo(0.0108, 9);
    expect(r.stderr).toContain(
      `> POST ${worker.url}/api/marketplace/request {"ram_gb":4,"vram_gb":2,"duration_sec":3600,"region":"cli-a","limit":100}`,
    );

    const human = await mnemo(["match", "region=cli-a", "--ram", "4", "--duration", "1h"], { home });
    expect(human.code).toBe(0);
    expect(human.stdout.split("\n")[0]).toMatch(/^#\s+SCORE\s+NODE\s+NAME.*PROXIMITY\s+PRICE\s+RELIABILITY\s+CAPACITY\s+NODE_TYPE$/);
    expect(human.stdout).toContain("cli-A1");
    expect(human.stderr).toContain("mnemo rent 'region=cli-a' --ram 4 --duration 1h");
  });

  it("without a session the command says so and exits 1", async () => {
    const r = await mnemo(["match", "--ram", "1", "--duration", "1h"], { home: newHome() });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("mnemo: Not logged in: run mnemo login, or set MNEMO_TOKEN.\n");
  });
});

describe("mnemo balance, topup, ledger", () => {
  it("topup adds funds through Stripe; balance and ledger show it", async () => {
    const home = await loggedIn();
    const before = json(await mnemo(["balance", "--json"], { home }));
    const t = await mnemo(["topup", "--amount", "12.50", "--payment-method", "pm_card_visa", "--json", "--explain"], { home });
    expect(t.code, t.stderr).toBe(0);
    expect(json(t).transaction).toMatchObject({ amount_usd: 12.5, payment_method: "stripe", status: "completed" });
    expect(t.stderr).toContain(`"stripe_token":"***"`);
    const after = json(await mnemo(["balance", "--json"], { home }));
    expect(after.balance_usd).toBeCloseTo(before.balance_usd + 12.5, 6);
    const human = await mnemo(["balance"], { home });
    expect(human.stdout).toMatch(/^balance\s+\$\d+\.\d\d/);
    expect(human.stdout).toContain("available");

    const ledger = json(await mnemo(["ledger", "--json"], { home }));
    expect(ledger.entries.some((e: Json) => e.kind === "topup" && e.amount_usd === 12.5)).toBe(true);
    const table = await mnemo(["ledger"], { home });
    expect(table.stdout.split("\n")[0]).toMatch(/^TIME\s+KIND\s+AMOUNT_USD\s+CONTRACT\s+MEMO\s+HASH/);
    expect(table.stdout).toContain("topup");

    const declined = await mnemo(["topup", "--amount", "5", "--payment-method", "pm_card_declined"], { home });
    expect(declined.code).toBe(1);
    expect(declined.stderr).toMatch(/^mnemo: .*declined.*HTTP 402/i);
  });
});

describe("mnemo contracts (no agent: contracts stay pending)", () => {
  it("rent gives up after --wait and cancels what it reserved, so no hold is left", async () => {
    const home = await loggedIn();
    const r = await mnemo(["rent", "name=cli-B1", "--ram", "1", "--duration", "2m", "--wait", "2s"], { home, timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Created contract ([0-9a-f-]{36}) on cli-B1/);
    const id = /Created contract ([0-9a-f-]{36})/.exec(r.stderr)![1];
    expect(r.stderr).toContain(`mnemo: The node did not start contract ${id} within 2s; it was cancelled and nothing was charged.`);
    const show = json(await mnemo(["contracts", "show", id, "--json"], { home }));
    expect(show.contract.status).toBe("cancelled");
  });

  it("list, show, cancel; refusals exit 1 with the API's message", async () => {
    const home = await loggedIn();
    const token = JSON.parse(readFileSync(join(home, "mnemo/session.json"), "utf8")).access_token;
    const { contract } = await ok(
      "POST",
      "/api/contracts/create",
      { node_id: nodeIds["cli-A1"], ram_gb: 2, vram_gb: 0, duration_sec: 600 },
      { authorization: `Bearer ${token}` },
    );
    const list = json(await mnemo(["contracts", "list", "--status", "pending", "--json"], { home }));
    expect(list.contracts.map((c: Json) => c.id)).toContain(contract.id);
    const human = await mnemo(["contracts", "list"], { home });
    expect(human.stdout.split("\n")[0]).toMatch(/^ID\s+STATUS\s+NODE\s+RAM_GB/);
    expect(human.stdout).toContain(contract.id);
    const show = await mnemo(["contracts", "show", contract.id], { home });
    expect(show.stdout).toMatch(/status\s+pending/);
    expect(show.stdout).toContain("cli-A1");

    const cancel = await mnemo(["contracts", "cancel", contract.id], { home });
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toContain(`Cancelled ${contract.id}`);
    const again = await mnemo(["contracts", "cancel", contract.id, "--json"], { home });
    expect(again.code).toBe(1);
    expect(again.stdout).toBe("");
    expect(again.stderr).toMatch(/^mnemo: .+ \(conflict, HTTP 409\)\n$/);

    const missing = await mnemo(["contracts", "show", "00000000-0000-4000-8000-000000000000"], { home });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/\(not_found, HTTP 404\)/);
    const extendBad = await mnemo(["contracts", "extend", contract.id, "--by", "10m"], { home });
    expect(extendBad.code).toBe(1);
    expect(extendBad.stderr).toMatch(/HTTP 409/);
  });
});

describe("mnemo rent with a real agent", () => {
  let home: string;
  let contractId: string;

  beforeAll(async () => {
    await agentIn("cli-live");
    home = await loggedIn();
  }, 120_000);

  it("matches, reserves, waits until the node holds the contract, and reports progress on stderr", async () => {
    const r = await mnemo(["rent", "region=cli-live", "--ram", "1", "--duration", "5m", "--explain"], { home, timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    contractId = /Created contract ([0-9a-f-]{36}) on cli-live-agent/.exec(r.stderr)![1];
    expect(r.stderr).toMatch(new RegExp(`Contract ${contractId} is active until \\d{4}-`));
    expect(r.stderr).toContain(`> POST ${worker.url}/api/contracts/create {"node_id":`);
    expect(r.stderr).toContain(`> GET ${worker.url}/api/contracts/${contractId}`);
    const show = json(await mnemo(["contracts", "show", contractId, "--json"], { home }));
    expect(show.contract).toMatchObject({ status: "active", ram_gb: 1, duration_sec: 300, auto_renew: false });
  });

  it("rent --json --auto-renew: one JSON document on stdout with the active contract and its lease", async () => {
    const r = await mnemo(["rent", "region=cli-live", "--ram", "1", "--duration", "2m", "--auto-renew", "--json"], {
      home,
      timeoutMs: 90_000,
    });
    expect(r.code, r.stderr).toBe(0);
    const body = json(r);
    expect(body.contract).toMatchObject({ status: "active", auto_renew: true, ram_gb: 1, duration_sec: 120 });
    expect(body.lease.lease_token.split(".")).toHaveLength(3);
    expect(r.stderr).toContain(`Contract ${body.contract.id} is active`);
    const settled = await mnemo(["contracts", "settle", body.contract.id, "--json"], { home });
    expect(json(settled).contract.status).toBe("completed");
  });

  it("extend, lease, watch until settle", async () => {
    const before = json(await mnemo(["contracts", "show", contractId, "--json"], { home })).contract;
    const ext = await mnemo(["contracts", "extend", contractId, "--by", "1m", "--json"], { home });
    expect(ext.code, ext.stderr).toBe(0);
    const extended = json(ext).contract;
    expect(Date.parse(extended.end_time) - Date.parse(before.end_time)).toBe(60_000);
    expect(extended.total_cost_usd).toBeGreaterThan(before.total_cost_usd);

    const lease = json(await mnemo(["lease", contractId, "--json"], { home }));
    expect(lease.lease_token.split(".")).toHaveLength(3); // the lease's own password: printed on purpose
    const human = await mnemo(["lease", contractId], { home });
    expect(human.stdout).toMatch(/^lease_token\s+\S+/);

    // watch follows the live channel; settling ends the contract and the watch with it.
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...process.env, MNEMO_TOKEN: undefined, MNEMO_API_URL: worker.url, XDG_CONFIG_HOME: home }))
      if (v !== undefined) env[k] = v;
    // --interval 1h: within this test only the WebSocket can bring the change.
    const watcher = spawn(process.execPath, [MNEMO, "contracts", "watch", contractId, "--json", "--explain", "--interval", "1h"], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let wout = "";
    let werr = "";
    watcher.stdout.on("data", (d) => (wout += d));
    watcher.stderr.on("data", (d) => (werr += d));
    const exited = new Promise<number | null>((r) => watcher.on("exit", r));
    const kill = setTimeout(() => watcher.kill("SIGKILL"), 60_000);
    await until(async () => wout.includes('"status":"active"') && werr.includes("(WebSocket"), "the watch's first line", 30_000);
    await new Promise((r) => setTimeout(r, 1000)); // the socket is open before the settle's message
    const settle = await mnemo(["contracts", "settle", contractId], { home });
    expect(settle.code, settle.stderr).toBe(0);
    expect(await exited).toBe(0);
    clearTimeout(kill);
    const lines = wout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ contract_id: contractId, status: "active" });
    expect(lines.at(-1)).toMatchObject({ contract_id: contractId, status: "completed", via: "websocket" });
    expect(typeof lines.at(-1).accrued_cost_usd).toBe("number");
    expect(werr).toContain(`/ws/`);
    expect(werr).toContain("token in the subprotocol");
    for (const s of secrets) expect(wout + werr).not.toContain(s);
  });
});

describe("mnemo rent → redis-cli PING (needs the data plane: the agent's lease endpoint and the worker's ready call)", () => {
  it("prints a redis:// URL on which redis-cli answers PONG", async () => {
    const agent = await agentIn("cli-plane");
    const home = await loggedIn();
    const r = await mnemo(["rent", "region=cli-plane", "--ram", "1", "--duration", "2m"], { home, timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    const url = r.stdout.trim();
    expect(url).toMatch(/^redis:\/\/[0-9a-f-]{36}:[^@]+@127\.0\.0\.1:\d+\/0$/);
    const pong = execFileSync("redis-cli", ["-u", url, "PING"], { encoding: "utf8", timeout: 10_000 });
    expect(pong.trim()).toBe("PONG");
    // Each read of the lease signs a fresh token: same user and endpoint, and it works too.
    const viaLease = (await mnemo(["lease", /Created contract ([0-9a-f-]{36})/.exec(r.stderr)![1], "--url"], { home })).stdout.trim();
    const parts = (u: string) => /^redis:\/\/([^:]+):[^@]+@(.+)$/.exec(u)!.slice(1);
    expect(parts(viaLease)).toEqual(parts(url));
    expect(execFileSync("redis-cli", ["-u", viaLease, "PING"], { encoding: "utf8", timeout: 10_000 }).trim()).toBe("PONG");
  });
});
