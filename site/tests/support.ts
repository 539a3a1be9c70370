// Shared setup for the browser suites: build the site when its sources changed, start the real
// worker (wrangler dev serving site/dist and the API on fresh local state), seed a small market
// through the public API, and open pages in headless Chromium with console errors collected.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll } from "vitest";
import { ROOT, startWorker } from "../../scripts/lib/worker-server.mjs";

export const SITE = join(ROOT, "site");
export const SHOTS = join(ROOT, "test-artifacts/screenshots");
export const ADMIN_EMAIL = "admin@e2e.test";
export const PASSWORD = "correct-horse-battery";

function newestMtime(dir: string): number {
  let max = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    max = Math.max(max, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return max;
}

/** Builds site/dist unless it is newer than every source file. */
export function buildSite(): void {
  const index = join(SITE, "dist/index.html");
  const sources = Math.max(
    newestMtime(join(SITE, "src")),
    newestMtime(join(SITE, "public")),
    statSync(join(SITE, "astro.config.mjs")).mtimeMs,
  );
  if (existsSync(index) && statSync(index).mtimeMs > sources) return;
  const bin = join(ROOT, "node_modules/.bin");
  const r = spawnSync(join(bin, "astro"), ["build", "--root", "site", "--silent"], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, ASTRO_TELEMETRY_DISABLED: "1" },
  });
  if (r.status !== 0) throw new Error(`astro build failed:\n${r.stdout}\n${r.stderr}`);
}

export interface Stack {
  url: string;
  stop: () => Promise<void>;
}

export async function startStack(): Promise<Stack> {
  buildSite();
  // The seeded nodes have no agent to send end-of-lease receipts: settlement need not wait for them.
  return startWorker({ vars: { ADMIN_EMAILS: ADMIN_EMAIL, HEARTBEAT_MIN_INTERVAL_SEC: "1", LEASE_REPORT_WAIT_SEC: "0" } });
}

/** A browser suite's world (the stack, Chromium, a seeded market): ready before its tests, closed after them. */
export function useSite(opts: { activity?: boolean } = {}): { stack: Stack; browser: Browser; market: Market } {
  const site = {} as { stack: Stack; browser: Browser; market: Market };
  beforeAll(async () => {
    [site.stack, site.browser] = await Promise.all([startStack(), launch()]);
    site.market = await seedMarket(site.stack.url, opts);
  });
  afterAll(async () => {
    await site.browser?.close();
    await site.stack?.stop();
  });
  return site;
}

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
    ],
  });
}

// ---- the API, called the way any client would ------------------------------------------------

export async function call<T = any>(
  base: string,
  path: string,
  opts: { method?: string; body?: unknown; token?: string; apiKey?: string } = {},
): Promise<T> {
  const headers: Record<string, string> = {};
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.apiKey) headers["x-api-key"] = opts.apiKey;
  const method = opts.method ?? (opts.body === undefined ? "GET" : "POST");
  const res = await fetch(base + path, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

export interface Account {
  email: string;
  password: string;
  token: string;
  expiresIn: number;
  user: { id: string; email: string; role: "user" | "provider" | "admin" };
}

let seq = 0;
export async function register(
  base: string,
  role: "user" | "provider",
  email = `${role}-${Date.now()}-${++seq}@e2e.test`,
): Promise<Account> {
  const r = await call(base, "/api/auth/register", { body: { email, password: PASSWORD, role, full_name: `E2E ${role}` } });
  return { email, password: PASSWORD, token: r.access_token, expiresIn: r.expires_in, user: r.user };
}

export const SEED_NODES = [
  {
    name: "paris-dc-1",
    node_type: "datacenter",
    region: "eu-west",
    latitude: 48.8566,
    longitude: 2.3522,
    total_ram_gb: 256,
    total_vram_gb: 80,
    price_per_gb_sec: 0.0000008,
  },
  {
    name: "ashburn-edge-1",
    node_type: "edge_cluster",
    region: "us-east",
    latitude: 39.0438,
    longitude: -77.4874,
    total_ram_gb: 128,
    total_vram_gb: 0,
    price_per_gb_sec: 0.0000006,
  },
  {
    name: "singapore-mist-1",
    node_type: "mist_node",
    region: "ap-southeast",
    latitude: 1.3521,
    longitude: 103.8198,
    total_ram_gb: 32,
    total_vram_gb: 24,
    price_per_gb_sec: 0.0000012,
  },
] as const;

/** Where the seeded nodes say they serve leases (nothing listens there: the site only shows it). */
export const SEED_ENDPOINT = "127.0.0.1:7379";

/** The node's agent holds the lease: pending → active. */
export function ready(base: string, apiKey: string, nodeId: string, contractId: string) {
  return call(base, `/api/nodes/${nodeId}/contracts/${contractId}/ready`, { apiKey, method: "POST" });
}

export interface Market {
  provider: Account;
  renter: Account;
  admin: Account;
  apiKey: string;
  nodeIds: string[];
}

/** A new renter with $5 of credit and a pending 10-minute contract for `ramGb` GB of RAM on `nodeId`. */
export async function renterWithContract(
  base: string,
  market: Market,
  nodeId: string,
  ramGb: number,
): Promise<{ renter: Account; contract: any }> {
  const renter = await register(base, "user");
  await call(base, "/api/admin/credits", { token: market.admin.token, body: { user_id: renter.user.id, amount_usd: 5, reason: "e2e" } });
  const { contract } = await call(base, "/api/contracts/create", {
    token: renter.token,
    body: { node_id: nodeId, ram_gb: ramGb, vram_gb: 0, duration_sec: 600 },
  });
  return { renter, contract };
}

/** A provider with three nodes in three regions (registered with an API key, as the agent does), a renter with $50, an admin. */
export async function seedMarket(base: string, opts: { activity?: boolean } = {}): Promise<Market> {
  const provider = await register(base, "provider");
  const key = await call(base, "/api/auth/api-keys", { token: provider.token, body: { name: "e2e agent" } });
  const nodeIds: string[] = [];
  for (const n of SEED_NODES) {
    const r = await call(base, "/api/nodes/register", {
      apiKey: key.api_key,
      body: { ...n, bandwidth_mbps: 1000, base_latency_ms: 5, endpoint: SEED_ENDPOINT },
    });
    nodeIds.push(r.node_id);
  }
  const renter = await register(base, "user");
  const adminReg = await call(base, "/api/auth/register", { body: { email: ADMIN_EMAIL, password: PASSWORD, role: "user" } });
  const admin: Account = {
    email: ADMIN_EMAIL,
    password: PASSWORD,
    token: adminReg.access_token,
    expiresIn: adminReg.expires_in,
    user: adminReg.user,
  };
  // Billing is part of the product: a failed credit fails the seed, loudly.
  await call(base, "/api/admin/credits", { token: admin.token, body: { user_id: renter.user.id, amount_usd: 50, reason: "e2e seed" } });
  if (opts.activity) await seedActivity(base, renter, key.api_key, nodeIds);
  return { provider, renter, admin, apiKey: key.api_key, nodeIds };
}

/**
 * Some history for the dashboards: one contract held a few seconds and settled (spending,
 * earnings, a traded price), one still running (rented capacity, burn rate, accrued cost).
 */
async function seedActivity(base: string, renter: Account, apiKey: string, nodeIds: string[]): Promise<void> {
  const heartbeat = (i: number) =>
    call(base, `/api/nodes/${nodeIds[i]}/heartbeat`, {
      apiKey,
      body: {
        available_ram_gb: SEED_NODES[i].total_ram_gb,
        available_vram_gb: SEED_NODES[i].total_vram_gb,
        cpu_usage_pct: 22,
        gpu_usage_pct: 35,
        temperature_c: 58,
      },
    });
  const a = await call(base, "/api/contracts/create", {
    token: renter.token,
    body: { node_id: nodeIds[0], ram_gb: 8, vram_gb: 0, duration_sec: 600 },
  });
  const b = await call(base, "/api/contracts/create", {
    token: renter.token,
    body: { node_id: nodeIds[2], ram_gb: 4, vram_gb: 8, duration_sec: 3600 },
  });
  await Promise.all([heartbeat(0), heartbeat(2)]); // delivered
  await Promise.all([ready(base, apiKey, nodeIds[0], a.contract.id), ready(base, apiKey, nodeIds[2], b.contract.id)]); // pending → active
  await call(base, `/api/contracts/${a.contract.id}/settle`, { token: renter.token, body: {} });
  // Settlement runs on the queue; wait until the charge is on the contract.
  for (let i = 0; i < 40; i++) {
    const { contract } = await call(base, `/api/contracts/${a.contract.id}`, { token: renter.token });
    if (contract.settlement_hash) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  void b;
}

// ---- pages ----------------------------------------------------------------------------------

export interface Watched {
  context: BrowserContext;
  page: Page;
  errors: string[];
}

/** A fresh context (own sessionStorage) with every console error and uncaught exception recorded. */
export async function openPage(browser: Browser, opts: { account?: Account; width?: number; height?: number } = {}): Promise<Watched> {
  // Reduced motion turns chart animations off (site/src/lib/charts.ts), so screenshots show finished charts.
  const context = await browser.newContext({
    viewport: { width: opts.width ?? 1280, height: opts.height ?? 900 },
    deviceScaleFactor: 1,
    reducedMotion: "reduce",
  });
  if (opts.account) {
    const a = opts.account;
    // Same storage shape as site/src/lib/session.ts: signed in before the first script runs.
    await context.addInitScript(
      ([session]) => {
        // Once per tab: a page that signs out or drops a rejected token must stay signed out.
        if (sessionStorage.getItem("e2e.seeded")) return;
        sessionStorage.setItem("e2e.seeded", "1");
        sessionStorage.setItem("mnemo.session", session);
      },
      [JSON.stringify({ token: a.token, expiresAt: Date.now() + (a.expiresIn - 60) * 1000, user: a.user })],
    );
  }
  const page = await context.newPage();
  // Requests in flight, for settle(): WebSockets are not requests, so a live page can still be idle.
  const inflight = new Set<string>();
  page.on("request", (r) => inflight.add(key(r)));
  page.on("requestfinished", (r) => inflight.delete(key(r)));
  page.on("requestfailed", (r) => inflight.delete(key(r)));
  inflightOf.set(page, inflight);
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`${m.text()} @ ${m.location().url}`);
  });
  page.on("pageerror", (e) => errors.push(`uncaught: ${e.message}`));
  return { context, page, errors };
}

const inflightOf = new WeakMap<Page, Set<string>>();
const requestIds = new WeakMap<object, number>();
let nextRequestId = 0;
function inflightId(r: object): number {
  if (!requestIds.has(r)) requestIds.set(r, ++nextRequestId);
  return requestIds.get(r)!;
}
const key = (r: { method(): string; url(): string }) => `${r.method()} ${r.url()}#${inflightId(r)}`;

/**
 * Waits until no request has been in flight for 500 ms, so late API errors are caught too. It
 * fails (naming the requests still open) rather than carrying on as if the page had settled.
 */
export async function settle(page: Page, timeoutMs = 15_000): Promise<void> {
  const inflight = inflightOf.get(page);
  if (!inflight) {
    await page.waitForLoadState("networkidle", { timeout: timeoutMs });
    return;
  }
  const until = Date.now() + timeoutMs;
  let quietSince = inflight.size === 0 ? Date.now() : 0;
  while (Date.now() < until) {
    if (inflight.size === 0) {
      quietSince ||= Date.now();
      if (Date.now() - quietSince >= 500) return;
    } else quietSince = 0;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `the page did not settle in ${timeoutMs} ms; still in flight: ${[...inflight].map((k) => k.replace(/#\d+$/, "")).join(", ")}`,
  );
}

export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  // The header is sticky: from the top, a full-page shot shows it once, where it belongs.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

export async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}
