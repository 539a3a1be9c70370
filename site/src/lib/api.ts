import { clearSession, getToken, redirectToLogin } from "./session";

export interface FieldError {
  field: string;
  message: string;
}

/** An API failure, already turned into words a person can act on. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fieldErrors: FieldError[] = [],
    readonly retryAfterSec?: number,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

type Query = Record<string, string | number | boolean | null | undefined>;

export interface RequestOptions {
  method?: "GET" | "POST" | "PUT" | "DELETE";
  body?: unknown;
  query?: Query;
  /** Send to /login on 401. Off for public widgets that should just degrade. */
  redirectOn401?: boolean;
  signal?: AbortSignal;
}

const FRIENDLY: Record<string, string> = {
  unauthenticated: "Your session has ended. Please sign in again.",
  forbidden: "Your account is not allowed to do that.",
  not_found: "That was not found. It may have been removed.",
  insufficient_capacity: "The node no longer has that much free memory. Pick another match or ask for less.",
  insufficient_funds: "Your balance cannot cover this contract's estimated cost.",
  budget_exceeded: "This would take you past your monthly budget.",
  payments_unavailable: "Payments are unavailable right now.",
  rate_limited: "Too many requests. Please wait a moment and try again.",
  misconfigured: "The server is not fully configured. Please contact the operator.",
};

const EXPLAIN = new Set(["insufficient_capacity", "insufficient_funds", "budget_exceeded", "forbidden"]);

function fieldName(d: Record<string, unknown>): string {
  const f = d.field ?? d.path ?? d.param ?? d.name;
  if (Array.isArray(f)) return f.join(".");
  return typeof f === "string" ? f : "";
}

function parseFieldErrors(details: unknown): FieldError[] {
  if (!Array.isArray(details)) return [];
  const out: FieldError[] = [];
  for (const d of details) {
    if (typeof d === "string") out.push({ field: "", message: d });
    else if (d && typeof d === "object") {
      const rec = d as Record<string, unknown>;
      const message = typeof rec.message === "string" ? rec.message : typeof rec.msg === "string" ? rec.msg : "";
      if (message) out.push({ field: fieldName(rec), message });
    }
  }
  return out;
}

/** Builds the readable error from the `{error:{code,message,details}}` envelope (or whatever came back instead). */
export function toApiError(status: number, body: unknown, retryAfter?: string | null): ApiError {
  const env = body && typeof body === "object" ? (body as { error?: unknown }).error : undefined;
  const retry = retryAfter && /^\d+$/.test(retryAfter) ? Number(retryAfter) : undefined;
  if (env && typeof env === "object") {
    const e = env as { code?: unknown; message?: unknown; details?: unknown };
    const code = typeof e.code === "string" ? e.code : "error";
    const fields = parseFieldErrors(e.details);
    const raw = typeof e.message === "string" ? e.message.trim() : "";
    let message = raw || FRIENDLY[code] || `Request failed (HTTP ${status}).`;
    // The worker's wording is precise but terse; for money and capacity refusals lead with what it means.
    if (EXPLAIN.has(code) && raw && raw !== FRIENDLY[code]) message = `${FRIENDLY[code]} (${raw})`;
    if (code === "rate_limited" && retry) message = `Too many requests. Try again in ${retry} s.`;
    return new ApiError(status, code, message, fields, retry);
  }
  if (status === 404) return new ApiError(status, "not_found", "This part of the API is not available yet.");
  if (status >= 500) return new ApiError(status, "server_error", `The server had a problem (HTTP ${status}). Please try again.`);
  return new ApiError(status, "error", `Request failed (HTTP ${status}).`);
}

export function qs(query?: Query): string {
  if (!query) return "";
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === "") continue;
    p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : "";
}

export async function api<T = unknown>(path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  const token = getToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(path + qs(opts.query), {
      method: opts.method ?? "GET",
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: opts.signal,
      credentials: "same-origin",
    });
  } catch (e) {
    if ((e as Error)?.name === "AbortError") throw e;
    throw new ApiError(0, "network", "Cannot reach the Mnemo API. Check your connection and try again.");
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let body: unknown = undefined;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
  }
  if (!res.ok) {
    const err = toApiError(res.status, body, res.headers.get("retry-after"));
    if (res.status === 401 && opts.redirectOn401 !== false) {
      clearSession();
      redirectToLogin();
    }
    throw err;
  }
  if (body === undefined) throw new ApiError(res.status, "bad_response", "The server sent an unreadable answer.");
  return body as T;
}

export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return "Something went wrong.";
}

// ---- Shapes from API.md, as the browser uses them --------------------------------------------

export type NodeType = "datacenter" | "edge_cluster" | "mist_node";

export interface User {
  id: string;
  email: string;
  role: "user" | "provider" | "admin";
  full_name: string | null;
  organization: string | null;
  created_at: string;
}

export interface ClientProfile {
  id: string;
  org_name: string | null;
  default_region: string | null;
  latitude: number | null;
  longitude: number | null;
  budget_monthly_usd: number | null;
  current_spend_usd: number | null;
  prefer_local: boolean;
  max_latency_ms: number | null;
  min_reliability: number | null;
}

export interface AuthResponse {
  user: User;
  access_token: string;
  token_type: string;
  expires_in: number;
}

export interface Offer {
  node_id: string;
  node_name: string;
  node_type: NodeType;
  region: string;
  available_ram_gb: number;
  available_vram_gb: number;
  price_per_gb_sec: number;
  uptime_score: number;
  distance_km: number | null;
  estimated_latency_ms: number | null;
}

export interface Match {
  node_id: string;
  node_name: string;
  node_type: NodeType;
  region: string;
  match_score: number;
  distance_km: number | null;
  estimated_cost: number;
  estimated_latency_ms: number | null;
  score_breakdown: { proximity: number; price: number; reliability: number; capacity: number; node_type: number };
}

export interface Contract {
  id: string;
  client_id: string;
  node_id: string;
  ram_gb: number;
  vram_gb: number;
  duration_sec: number;
  start_time: string | null;
  end_time: string | null;
  price_per_gb_sec: number;
  total_cost_usd: number;
  accrued_cost_usd: number;
  auto_renew: boolean;
  status: "pending" | "active" | "completed" | "failed" | "cancelled";
  settlement_hash: string | null;
  failed_over_to: string | null;
  created_at: string;
  completed_at: string | null;
  /** The node's end-of-lease receipt; null until the node reports the lease's end. */
  lease_receipt?: LeaseReceipt | null;
  /** Egress the node measured (bytes_out / 2^30); null while it has reported nothing. */
  measured_egress_gb?: number | null;
}

export interface LeaseReceipt {
  contract_id: string;
  bytes_in: number;
  bytes_out: number;
  keys: number;
  used_bytes: number;
  digest: string;
  wiped_at: string;
}

/** GET /api/contracts/{id}/lease: everything a Redis client needs to use the leased memory. */
export interface ContractLease {
  lease_token: string;
  kid: string;
  node_id: string;
  expires_at: string;
  endpoint: string;
  username: string;
  password: string;
  url: string;
  protocol: "resp";
  tls: boolean;
}

export interface MnemoNode {
  id: string;
  provider_id?: string;
  name: string;
  node_type: NodeType;
  region: string;
  latitude: number | null;
  longitude: number | null;
  total_ram_gb: number;
  total_vram_gb: number;
  available_ram_gb?: number;
  available_vram_gb?: number;
  bandwidth_mbps: number;
  base_latency_ms: number;
  price_per_gb_sec: number;
  status: "active" | "maintenance" | "offline";
  uptime_score?: number;
  last_heartbeat_at?: string | null;
  created_at?: string;
  [k: string]: unknown;
}

export interface Cluster {
  region: string;
  center: { lat: number; lng: number } | null;
  total_nodes: number;
  node_composition: { datacenter: number; edge_cluster: number; mist_node: number };
  total_ram_gb: number;
  available_ram_gb: number;
  total_vram_gb: number;
  available_vram_gb: number;
  avg_price_per_gb_sec: number | null;
}

export interface Balance {
  balance_usd: number;
  held_usd: number;
  available_usd: number;
  burn_rate_usd_per_hour: number;
  runway_sec: number | null;
}

export interface ApiKeyInfo {
  id: string;
  name: string | null;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
}

export interface Me {
  user: User;
  client: ClientProfile | null;
}

let meCache: Promise<Me> | null = null;
/** /api/auth/me, once per page. */
export function getMe(): Promise<Me> {
  meCache ??= api<Me>("/api/auth/me").catch((e) => {
    meCache = null;
    throw e;
  });
  return meCache;
}
