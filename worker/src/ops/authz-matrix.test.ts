/**
 * The authorisation matrix: every operation of the OpenAPI document × anonymous / each role /
 * the resource's owner / another account / an admin. The RULES table names the expected rule of
 * each operation; an operation in the document without a rule (a new route nobody thought about)
 * fails the suite, and so does a rule for an operation that no longer exists.
 */
import { describe, expect, it } from "vitest";
import { adminAccount, api, credit, register, registerNode, type Account } from "../../test/helpers";
import { provenWallet } from "../../test/money";

type Role = "user" | "provider";
type Resource = "node" | "contract" | "apiKey" | "client" | "wallet";

interface Rule {
  /** Who may call at all: anyone, any signed-in account, one role (admins pass every role), admins only. */
  auth: "public" | "any" | Role | "admin";
  /** Owner-scoped: the resource in the path, the owner's role, and what another account of that role gets. */
  owner?: { resource: Resource; other: 403 | 404 | "public-view" };
  /** A valid body, so that ownership (checked after validation) is what decides. */
  body?: unknown;
  /** Extra check for operations scoped to the caller by other means (a query parameter). */
  selfScoped?: (f: Fixtures, as: Account) => Promise<void>;
}

const RULES: Record<string, Rule> = {
  "GET /health": { auth: "public" },
  "GET /metrics": { auth: "public" },
  "GET /.well-known/jwks.json": { auth: "public" },
  "POST /api/auth/register": { auth: "public" },
  "POST /api/auth/login": { auth: "public" },
  "GET /api/auth/me": { auth: "any" },
  "PUT /api/auth/me/client": { auth: "any" },
  "POST /api/auth/api-keys": { auth: "any" },
  "GET /api/auth/api-keys": { auth: "any" },
  "DELETE /api/auth/api-keys/{id}": { auth: "any", owner: { resource: "apiKey", other: 404 } },
  "POST /api/nodes/register": { auth: "provider" },
  "POST /api/nodes/{id}/heartbeat": {
    auth: "provider",
    owner: { resource: "node", other: 403 },
    body: { available_ram_gb: 1, available_vram_gb: 0 },
  },
  "GET /api/nodes": { auth: "any" },
  "GET /api/nodes/{id}": { auth: "any", owner: { resource: "node", other: "public-view" } },
  "PUT /api/nodes/{id}": { auth: "provider", owner: { resource: "node", other: 403 }, body: { name: "renamed" } },
  "DELETE /api/nodes/{id}": { auth: "provider", owner: { resource: "node", other: 403 } },
  // The node's owner (its agent's API key) answers for the contracts on it; {contract_id} is the fixture's contract.
  "POST /api/nodes/{id}/contracts/{contract_id}/ready": { auth: "provider", owner: { resource: "node", other: 403 } },
  "POST /api/nodes/{id}/contracts/{contract_id}/reject": {
    auth: "provider",
    owner: { resource: "node", other: 403 },
    body: { reason: "matrix" },
  },
  "GET /api/contracts/{id}/lease": { auth: "any", owner: { resource: "contract", other: 404 } },
  "POST /api/contracts/create": { auth: "user" },
  "GET /api/contracts": { auth: "any" },
  "GET /api/contracts/{id}": { auth: "any", owner: { resource: "contract", other: 404 } },
  "POST /api/contracts/{id}/settle": { auth: "user", owner: { resource: "contract", other: 404 }, body: {} },
  "POST /api/contracts/{id}/extend": { auth: "user", owner: { resource: "contract", other: 404 }, body: { additional_sec: 60 } },
  "POST /api/contracts/{id}/cancel": { auth: "user", owner: { resource: "contract", other: 404 } },
  "GET /api/billing/balance": { auth: "any" },
  "GET /api/billing/ledger": {
    auth: "any",
    // user_id is for admins; anyone else always gets their own entries.
    selfScoped: async (f, as) => {
      const r = await api("GET", `/api/billing/ledger?user_id=${f.renter.id}`, { token: as.token });
      expect(r.status).toBe(200);
      expect(r.body.entries.filter((e: { user_id?: string }) => e.user_id === f.renter.id)).toEqual([]);
    },
  },
  "GET /api/billing/ledger/verify": { auth: "admin" },
  "POST /api/admin/credits": { auth: "admin" },
  "GET /api/admin/overview": { auth: "admin" },
  "GET /api/marketplace": { auth: "public" },
  "POST /api/marketplace/request": { auth: "any" },
  "GET /api/clusters": { auth: "public" },
  "GET /api/clusters/{region}/nodes": { auth: "public" },
  "GET /api/clusters/{region}/stats": { auth: "public" },
  "POST /api/payments/create": { auth: "any" },
  "POST /api/payments/crypto": { auth: "any" },
  "GET /api/payments/invoice/{client_id}": { auth: "any", owner: { resource: "client", other: 404 } },
  // Authenticated by the Stripe-Signature header instead of a user.
  "POST /api/payments/webhook": { auth: "public" },
  "POST /api/payments/wallets": { auth: "any" },
  "GET /api/payments/wallets": { auth: "any" },
  "POST /api/payments/wallets/{id}/verify": {
    auth: "any",
    owner: { resource: "wallet", other: 404 },
    body: { signature: "0x" + "11".repeat(65) },
  },
  "GET /api/billing/earnings": { auth: "any" },
  "PUT /api/billing/payout-account": { auth: "provider" },
  "POST /api/billing/payouts": { auth: "provider" },
  "GET /api/analytics/node/{node_id}/earnings": { auth: "provider", owner: { resource: "node", other: 403 } },
  "GET /api/analytics/client/{client_id}/spending": { auth: "any", owner: { resource: "client", other: 404 } },
  "GET /api/analytics/market/supply": { auth: "public" },
  "GET /api/analytics/market/pricing": { auth: "public" },
};

interface Fixtures {
  provider: Account;
  otherProvider: Account;
  renter: Account;
  otherRenter: Account;
  admin: Account;
  region: string;
  ids: Record<Resource, string>;
  owners: Record<Resource, Account>;
  others: Record<Resource, Account>;
}

async function fixtures(): Promise<Fixtures> {
  const [provider, otherProvider, renter, otherRenter, admin] = await Promise.all([
    register("provider"),
    register("provider"),
    register("user"),
    register("user"),
    adminAccount(),
  ]);
  const region = "authz-" + crypto.randomUUID().slice(0, 6);
  const node = await registerNode(provider, { region });
  await credit(renter.id, 20);
  const k = await api("POST", "/api/contracts/create", {
    token: renter.token,
    body: { node_id: node.id, ram_gb: 1, vram_gb: 0, duration_sec: 600 },
  });
  expect(k.status, JSON.stringify(k.body)).toBe(201);
  const key = await api("POST", "/api/auth/api-keys", { token: provider.token, body: { name: "matrix" } });
  await provenWallet(renter);
  const wallet = await api("POST", "/api/payments/wallets", {
    token: renter.token,
    body: { blockchain: "ethereum", address: "0x" + "ab".repeat(20) },
  });
  return {
    provider,
    otherProvider,
    renter,
    otherRenter,
    admin,
    region,
    ids: { node: node.id, contract: k.body.contract.id, apiKey: key.body.id, client: renter.clientId, wallet: wallet.body.wallet.id },
    owners: { node: provider, contract: renter, apiKey: provider, client: renter, wallet: renter },
    others: { node: otherProvider, contract: otherRenter, apiKey: otherProvider, client: otherRenter, wallet: otherRenter },
  };
}

/** The concrete path: owner-scoped parameters name the owner's resource, the rest plausible values. */
function pathFor(template: string, f: Fixtures, rule: Rule): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    if (name === "region") return f.region;
    if (name === "contract_id") return f.ids.contract;
    if (rule.owner) return f.ids[rule.owner.resource];
    if (name === "node_id") return f.ids.node;
    if (name === "client_id") return f.ids.client;
    return crypto.randomUUID();
  });
}

const call = (op: string, f: Fixtures, rule: Rule, as?: Account) => {
  const [method, template] = op.split(" ");
  return api(method, pathFor(template, f, rule), { token: as?.token, ...(rule.body !== undefined ? { body: rule.body } : {}) });
};

describe("authorisation matrix (generated from the OpenAPI document)", () => {
  it("has an explicit rule for every operation, and none for operations that do not exist", async () => {
    const doc = (await api("GET", "/api/openapi.json")).body;
    const ops = Object.entries<Record<string, unknown>>(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(
      ops.filter((op) => !(op in RULES)),
      "operations without an authorisation rule in RULES",
    ).toEqual([]);
    expect(
      Object.keys(RULES).filter((op) => !ops.includes(op)),
      "rules for operations the document no longer has",
    ).toEqual([]);
    // The document says the same: secured operations declare security, public ones do not.
    for (const op of ops) {
      const [m, p] = op.split(" ");
      const declared = Boolean((doc.paths[p][m.toLowerCase()] as { security?: unknown[] }).security?.length);
      expect(declared, `${op} security in the document`).toBe(RULES[op].auth !== "public");
    }
  });

  it("anonymous callers, wrong roles and other accounts are refused; owners and admins are let through", async () => {
    const f = await fixtures();
    const failures: string[] = [];
    const expectStatus = (op: string, who: string, got: { status: number; body: any }, ok: (s: number) => boolean, want: string) => {
      if (!ok(got.status))
        failures.push(`${op} as ${who}: got ${got.status} ${JSON.stringify(got.body?.error ?? got.body).slice(0, 160)}, want ${want}`);
      // Every refusal is in the error envelope.
      if (got.status >= 400 && typeof got.body?.error?.code !== "string")
        failures.push(`${op} as ${who}: ${got.status} without the error envelope`);
    };
    const refusedAuthz = (s: number) => s === 401 || s === 403;
    const ops = Object.keys(RULES);
    // Refusals first (they change nothing), then the owners' and admins' calls, destructive ones last.
    for (const op of ops) {
      const rule = RULES[op];
      const anon = await call(op, f, rule);
      if (rule.auth === "public") expectStatus(op, "anonymous", anon, (s) => s !== 401 && s !== 403, "not 401/403");
      else expectStatus(op, "anonymous", anon, (s) => s === 401, "401");
      if (rule.auth === "admin") {
        expectStatus(op, "user", await call(op, f, rule, f.renter), (s) => s === 403, "403");
        expectStatus(op, "provider", await call(op, f, rule, f.provider), (s) => s === 403, "403");
      }
      if (rule.auth === "provider")
        expectStatus(op, "user", await call(op, f, rule, rule.owner ? f.renter : f.otherRenter), (s) => s === 403, "403");
      if (rule.auth === "user") expectStatus(op, "provider", await call(op, f, rule, f.otherProvider), (s) => s === 403, "403");
      if (rule.owner && rule.owner.other !== "public-view") {
        const want = rule.owner.other;
        expectStatus(op, "another account", await call(op, f, rule, f.others[rule.owner.resource]), (s) => s === want, String(want));
      }
      if (rule.owner?.other === "public-view") {
        const r = await call(op, f, rule, f.others[rule.owner.resource]);
        expectStatus(op, "another account", r, (s) => s === 200, "200 (public view)");
        if (r.body?.node && "provider_id" in r.body.node) failures.push(`${op} as another account: the public view carries provider_id`);
      }
      if (rule.selfScoped) await rule.selfScoped(f, f.otherRenter);
    }
    const destructive = (op: string) => op.startsWith("DELETE ") || /\/(settle|cancel|reject)$/.test(op);
    for (const op of [...ops.filter((o) => !destructive(o)), ...ops.filter(destructive)]) {
      const rule = RULES[op];
      if (rule.auth === "public" || rule.auth === "admin") {
        if (rule.auth === "admin") expectStatus(op, "admin", await call(op, f, rule, f.admin), (s) => !refusedAuthz(s), "not 401/403");
        continue;
      }
      const who = rule.owner ? f.owners[rule.owner.resource] : rule.auth === "provider" ? f.provider : f.renter;
      expectStatus(
        op,
        "the owner / right role",
        await call(op, f, rule, who),
        (s) => !refusedAuthz(s) && s !== 404 && s < 500,
        "not 401/403/404/5xx",
      );
      if (rule.owner && op.startsWith("GET "))
        expectStatus(op, "admin", await call(op, f, rule, f.admin), (s) => !refusedAuthz(s) && s !== 404, "not 401/403/404");
    }
    expect(failures).toEqual([]);
  });
});
