/**
 * The agent's view of the Mnemo API (see API.md): only the calls a provider's machine makes,
 * authenticated with the provider's API key.
 */
import http from "node:http";
import type { components } from "./client/schema.d.ts";
import { VERSION } from "./version.ts";

// The request and answer shapes come from the worker's OpenAPI document (npm run gen:client).
export type NodeType = components["schemas"]["RegisterNode"]["node_type"];
export type RegisterNodeBody = components["schemas"]["RegisterNode"];
export type HeartbeatBody = components["schemas"]["Heartbeat"];
export type HeartbeatContract = components["schemas"]["HeartbeatResponse"]["contracts"][number];
export type HeartbeatResponse = components["schemas"]["HeartbeatResponse"];
export type LeaseReport = NonNullable<HeartbeatBody["lease_reports"]>[number];

export interface NodeView {
  id: string;
  name: string;
  node_type: string;
  region: string;
  status: string;
  total_ram_gb: number;
  total_vram_gb: number;
  available_ram_gb: number;
  available_vram_gb: number;
  price_per_gb_sec: number | string;
  held_ram_gb?: number;
  held_vram_gb?: number;
  reported_ram_gb?: number;
  reported_vram_gb?: number;
  uptime_score?: number;
  last_heartbeat_at?: string | null;
  [key: string]: unknown;
}

export interface NodeDetail {
  node: NodeView;
  earnings?: { total_usd: number | string; last_30d_usd: number | string };
  active_contracts?: unknown;
}

export interface ContractView {
  id: string;
  node_id: string;
  ram_gb: number;
  vram_gb: number;
  status: string;
  start_time: string | null;
  end_time: string | null;
  accrued_cost_usd?: number | string;
  total_cost_usd?: number | string;
  [key: string]: unknown;
}

export interface Earnings {
  earned_usd: number | string;
  paid_out_usd: number | string;
  pending_usd: number | string;
}

/** The server answered with an error envelope (or at least an error status). */
export class ApiError extends Error {
  override name = "ApiError";
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  /** Seconds, from `Retry-After`, when the server gave one. */
  readonly retryAfterSec: number | null;
  constructor(status: number, code: string, message: string, details: unknown, retryAfterSec: number | null) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfterSec = retryAfterSec;
  }
  /** Worth retrying later: the server or something in front of it is having a bad moment. */
  get transient(): boolean {
    return this.status >= 500 || this.status === 408 || this.status === 429;
  }
}

/** The request never got an HTTP answer (refused, DNS, timeout, reset). */
export class NetworkError extends Error {
  override name = "NetworkError";
}

function parseRetryAfter(value: string | null): number | null {
  if (!value) return null;
  const sec = Number(value);
  if (Number.isFinite(sec) && sec >= 0) return sec;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, (at - Date.now()) / 1000);
}

const CAUSES: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "DNS lookup failed",
  ETIMEDOUT: "timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
};

function describeCause(e: unknown, signal: AbortSignal): string {
  if (signal.aborted) return (signal.reason as { name?: string })?.name === "TimeoutError" ? "timed out" : "cancelled";
  const err = e as { code?: string; message?: string };
  if (err?.code) return CAUSES[err.code] ?? err.code;
  return err?.message ?? String(e);
}

const USER_AGENT = `mnemo-agent/${VERSION} node/${process.versions.node}`;
const MAX_BODY = 4 * 1024 * 1024;

interface RawResponse {
  status: number;
  text: string;
  retryAfter: string | null;
}

type RequestFn = typeof http.request;
// Loaded only for https URLs: TLS is a few MB the plain-http case does not need.
let httpsRequest: Promise<RequestFn> | undefined;

/**
 * One request over node:http(s) rather than fetch: undici costs a long-running agent about 15 MB
 * more resident memory, and the agent's budget is 80 MB. A fresh connection each time (no
 * keep-alive) because heartbeats are far apart and an idle socket the server has closed is the
 * classic source of spurious ECONNRESETs.
 */
async function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  signal: AbortSignal,
): Promise<RawResponse> {
  const u = new URL(url);
  const request: RequestFn =
    u.protocol === "https:" ? await (httpsRequest ??= import("node:https").then((m) => m.request as RequestFn)) : http.request;
  if (body !== undefined) headers["content-length"] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const req = request(u, { method, headers, agent: false, signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) req.destroy(new Error("response too large"));
        else chunks.push(c);
      });
      res.on("end", () => {
        const ra = res.headers["retry-after"];
        resolve({
          status: res.statusCode ?? 0,
          text: Buffer.concat(chunks).toString("utf8"),
          retryAfter: Array.isArray(ra) ? ra[0] : (ra ?? null),
        });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

export class MnemoApi {
  readonly baseUrl: string;
  private readonly apiKey: string;
  private readonly timeoutMs: number;
  private readonly cancel: AbortSignal | undefined;

  /** `cancel` aborts requests in flight, so a shutdown never waits on a slow heartbeat. */
  constructor(baseUrl: string, apiKey: string, opts: { timeoutMs?: number; cancel?: AbortSignal } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.apiKey = apiKey;
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.cancel = opts.cancel;
  }

  async request<T>(method: string, path: string, body?: unknown, opts: { timeoutMs?: number; cancellable?: boolean } = {}): Promise<T> {
    const timeout = AbortSignal.timeout(opts.timeoutMs ?? this.timeoutMs);
    const signal = this.cancel && opts.cancellable !== false ? AbortSignal.any([timeout, this.cancel]) : timeout;
    let res: RawResponse;
    try {
      res = await send(
        this.baseUrl + path,
        method,
        {
          "x-api-key": this.apiKey,
          accept: "application/json",
          "user-agent": USER_AGENT,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body === undefined ? undefined : JSON.stringify(body),
        signal,
      );
    } catch (e) {
      throw new NetworkError(`cannot reach ${this.baseUrl} (${describeCause(e, signal)})`);
    }
    let json: unknown = undefined;
    if (res.text) {
      try {
        json = JSON.parse(res.text);
      } catch {
        /* a proxy's HTML error page: reported by status below */
      }
    }
    if (res.status < 200 || res.status >= 300) {
      const env = (json as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
      throw new ApiError(
        res.status,
        env?.code ?? `http_${res.status}`,
        env?.message ?? `${method} ${path} answered ${res.status}`,
        env?.details,
        parseRetryAfter(res.retryAfter),
      );
    }
    return json as T;
  }

  registerNode(body: RegisterNodeBody): Promise<{ node_id: string; node: NodeView }> {
    return this.request("POST", "/api/nodes/register", body);
  }

  /** `final`: the shutdown's last heartbeat (carrying the receipts), sent even though the agent is stopping. */
  heartbeat(nodeId: string, body: HeartbeatBody, final?: { timeoutMs: number }): Promise<HeartbeatResponse> {
    return this.request(
      "POST",
      `/api/nodes/${encodeURIComponent(nodeId)}/heartbeat`,
      body,
      final ? { timeoutMs: final.timeoutMs, cancellable: false } : {},
    );
  }

  /** The lease is open on the endpoint: the contract becomes active (its term and billing start now). */
  contractReady(nodeId: string, contractId: string): Promise<{ contract: ContractView }> {
    return this.request("POST", `/api/nodes/${encodeURIComponent(nodeId)}/contracts/${encodeURIComponent(contractId)}/ready`, {});
  }

  /** This node cannot hold the contract: the server fails it over, never charging the renter. */
  contractReject(nodeId: string, contractId: string, reason: string, final?: { timeoutMs: number }): Promise<{ contract: ContractView }> {
    return this.request(
      "POST",
      `/api/nodes/${encodeURIComponent(nodeId)}/contracts/${encodeURIComponent(contractId)}/reject`,
      { reason },
      final ? { timeoutMs: final.timeoutMs, cancellable: false } : {},
    );
  }

  getNode(nodeId: string): Promise<NodeDetail> {
    return this.request("GET", `/api/nodes/${encodeURIComponent(nodeId)}`);
  }

  /** `final`: the shutdown's last word, sent even though the agent is stopping. */
  updateNode(nodeId: string, patch: Record<string, unknown>, final?: { timeoutMs: number }): Promise<{ node: NodeView }> {
    return this.request(
      "PUT",
      `/api/nodes/${encodeURIComponent(nodeId)}`,
      patch,
      final ? { timeoutMs: final.timeoutMs, cancellable: false } : {},
    );
  }

  listContracts(nodeId: string, status?: string): Promise<{ contracts: ContractView[]; total_count: number }> {
    const q = new URLSearchParams({ node_id: nodeId, limit: "100" });
    if (status) q.set("status", status);
    return this.request("GET", `/api/contracts?${q}`);
  }

  earnings(): Promise<Earnings> {
    return this.request("GET", "/api/billing/earnings");
  }
}
