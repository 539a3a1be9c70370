/**
 * The real worker for the agent's end-to-end tests: `wrangler dev` on a free loopback port with a
 * fresh local D1 (scripts/lib/worker-server.mjs), and its HTTP API called as the agent and the
 * CLIs call it.
 */
import { join } from "node:path";
import { AGENT_ROOT } from "../helpers.ts";

export type Json = Record<string, any>;

export interface Worker {
  url: string;
  stop: () => Promise<void>;
}

interface WorkerServer {
  startWorker: (o: { vars: Record<string, string> }) => Promise<Worker>;
  freePort: () => Promise<number>;
}

const WORKER_SERVER = join(AGENT_ROOT, "../scripts/lib/worker-server.mjs");

const workerServer = () => import(WORKER_SERVER) as Promise<WorkerServer>;

export async function startWorker(vars: Record<string, string>): Promise<Worker> {
  return (await workerServer()).startWorker({ vars });
}

export async function freePort(): Promise<number> {
  return (await workerServer()).freePort();
}

/** `call` answers whatever the API says; `ok` throws on anything but a 2xx. */
export function api(baseUrl: () => string) {
  async function call(
    method: string,
    path: string,
    body?: unknown,
    auth: Record<string, string> = {},
  ): Promise<{ status: number; json: Json }> {
    const res = await fetch(baseUrl() + path, {
      method,
      headers: { "content-type": "application/json", ...auth },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : {} };
  }

  async function ok(method: string, path: string, body?: unknown, auth: Record<string, string> = {}): Promise<Json> {
    const r = await call(method, path, body, auth);
    if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.json)}`);
    return r.json;
  }

  return { call, ok };
}

/** Polls `fn` until it returns something truthy, and returns that. */
export async function until<T>(
  fn: () => Promise<T | undefined | null | false>,
  what: string,
  timeoutMs = 20_000,
  stepMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
