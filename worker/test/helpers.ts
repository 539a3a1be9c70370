import { SELF, env } from "cloudflare:test";
import { expect } from "vitest";

export interface Call {
  body?: unknown;
  raw?: string;
  token?: string;
  apiKey?: string;
  headers?: Record<string, string>;
}

/** A request to the real worker (SELF), returning status, headers and parsed JSON. */
export async function api<T = any>(method: string, path: string, call: Call = {}): Promise<{ status: number; body: T; headers: Headers }> {
  const headers: Record<string, string> = { ...call.headers };
  if (call.token) headers.authorization = `Bearer ${call.token}`;
  if (call.apiKey) headers["x-api-key"] = call.apiKey;
  let body: string | undefined;
  if (call.raw !== undefined) {
    body = call.raw;
    headers["content-type"] ??= "application/json";
  } else if (call.body !== undefined) {
    body = JSON.stringify(call.body);
    headers["content-type"] = "application/json";
  }
  const res = await SELF.fetch(`https://mnemo.test${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: any = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

export function expectError(res: { status: number; body: any }, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body?.error?.code, JSON.stringify(res.body)).toBe(code);
  expect(typeof res.body.error.message).toBe("string");
}

export const uniqueEmail = (tag = "u") => `${tag}-${crypto.randomUUID().slice(0, 8)}@test.mnemo`;

export interface Account {
  id: string;
  email: string;
  token: string;
  clientId: string;
}

export async function register(role: "user" | "provider" = "user", email = uniqueEmail(role)): Promise<Account> {
  const r = await api("POST", "/api/auth/register", { body: { email, password: "correct horse battery", role } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  const me = await api("GET", "/api/auth/me", { token: r.body.access_token });
  return { id: r.body.user.id, email, token: r.body.access_token, clientId: me.body.client.id };
}

let admin: Promise<Account> | undefined;
/** The admin comes from ADMIN_EMAILS (vitest.config.ts); one sign-up shared by a test file's calls. */
export function adminAccount(): Promise<Account> {
  admin ??= (async () => {
    let r = await api("POST", "/api/auth/login", { body: { email: "admin@test.mnemo", password: "admin password 123" } });
    if (r.status !== 200) {
      r = await api("POST", "/api/auth/register", { body: { email: "admin@test.mnemo", password: "admin password 123", role: "user" } });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      expect(r.body.user.role).toBe("admin");
    }
    const me = await api("GET", "/api/auth/me", { token: r.body.access_token });
    return { id: r.body.user.id, email: "admin@test.mnemo", token: r.body.access_token, clientId: me.body.client.id };
  })();
  return admin;
}

export async function credit(userId: string, amountUsd: number) {
  const a = await adminAccount();
  const r = await api("POST", "/api/admin/credits", {
    token: a.token,
    body: { user_id: userId, amount_usd: amountUsd, reason: "test credit" },
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
}

export interface NodeInput {
  node_type?: "datacenter" | "edge_cluster" | "mist_node";
  name?: string;
  region?: string;
  latitude?: number;
  longitude?: number;
  total_ram_gb?: number;
  total_vram_gb?: number;
  bandwidth_mbps?: number;
  base_latency_ms?: number;
  price_per_gb_sec?: number;
  min_duration_sec?: number;
  max_duration_sec?: number;
  egress_price_per_gb?: number;
  endpoint?: string;
}

export async function registerNode(provider: Account, input: NodeInput = {}) {
  const body = {
    node_type: "datacenter",
    name: "node-" + crypto.randomUUID().slice(0, 6),
    region: "test-" + crypto.randomUUID().slice(0, 6),
    latitude: 48.85,
    longitude: 2.35,
    total_ram_gb: 64,
    total_vram_gb: 24,
    bandwidth_mbps: 1000,
    base_latency_ms: 5,
    price_per_gb_sec: 0.000001,
    endpoint: "127.0.0.1:7379",
    ...input,
  };
  const r = await api("POST", "/api/nodes/register", { token: provider.token, body });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.node as any;
}

/** The node's agent holds the lease: pending → active (term and billing start now). */
export async function ready(provider: Account, nodeId: string, contractId: string) {
  const r = await api("POST", `/api/nodes/${nodeId}/contracts/${contractId}/ready`, { token: provider.token });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.contract as any;
}

export { env };
