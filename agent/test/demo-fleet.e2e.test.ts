/**
 * `npm start`'s demo fleet: the seeded demo nodes run as real agents in one process (the code
 * scripts/start.mjs runs), each serving its leases on its own loopback port, so the demo renter
 * can rent and use the memory at once with redis-cli. Against a fresh `wrangler dev`.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_ROOT } from "./helpers.ts";

const execFileP = promisify(execFile);
type Json = Record<string, any>;

let worker: { url: string; stop: () => Promise<void> };
let fleet: { size: number; stop: () => Promise<void> } | null = null;
let demo: Json;

async function call(method: string, path: string, body: unknown, token: string): Promise<Json> {
  const r = await fetch(worker.url + path, {
    method,
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const j = (await r.json()) as Json;
  if (!r.ok) throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(j)}`);
  return j;
}

beforeAll(async () => {
  const { startWorker } = await import(join(AGENT_ROOT, "../scripts/lib/worker-server.mjs"));
  const start = await import(join(AGENT_ROOT, "../scripts/start.mjs"));
  worker = await startWorker({ vars: { ADMIN_EMAILS: start.DEMO_ACCOUNTS.admin.email } });
  demo = await start.seed(worker.url);
  fleet = await start.startDemoFleet(worker.url, demo.provider, demo.nodes);
}, 180_000);

afterAll(async () => {
  await fleet?.stop();
  await worker?.stop();
}, 60_000);

describe("the npm start demo fleet", () => {
  it("every demo node serves its leases: rent on one and redis-cli PING / SET / GET at once", async () => {
    const token = demo.client.access_token as string;
    expect(fleet!.size).toBe(demo.nodes.length);
    const paris = demo.nodes.find((n: Json) => n.name === "paris-dc-1");
    // Every demo node came up: endpoint published, simulated capacity labelled.
    const mine = await call("GET", "/api/nodes?mine=true&limit=500", undefined, demo.provider.access_token);
    await (async () => {
      for (let i = 0; i < 200; i++) {
        const nodes = (await call("GET", "/api/nodes?mine=true&limit=500", undefined, demo.provider.access_token)).nodes as Json[];
        if (nodes.filter((n) => /^127\.0\.0\.1:\d+$/.test(n.endpoint ?? "")).length === demo.nodes.length) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error("not every demo node published an endpoint");
    })();
    expect(mine.nodes.find((n: Json) => n.id === paris.id).metadata.simulated).toBeTruthy();

    const t0 = Date.now();
    const { contract } = await call(
      "POST",
      "/api/contracts/create",
      { node_id: paris.id, ram_gb: 4, vram_gb: 2, duration_sec: 300 },
      token,
    );
    let lease: Json | null = null;
    while (!lease && Date.now() - t0 < 10_000) {
      const r = await fetch(`${worker.url}/api/contracts/${contract.id}/lease`, { headers: { authorization: `Bearer ${token}` } });
      if (r.ok) lease = (await r.json()) as Json;
      else await new Promise((res) => setTimeout(res, 25));
    }
    expect(lease).not.toBeNull();
    const cli = (...a: string[]) =>
      execFileP("redis-cli", ["-u", lease!.url, "--no-auth-warning", ...a], { timeout: 10_000 }).then((r) => r.stdout.trim());
    expect(await cli("PING")).toBe("PONG");
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(await cli("SET", "hello", "world")).toBe("OK");
    expect(await cli("GET", "hello")).toBe("world");
    // 4 GB RAM + 2 GB of simulated VRAM, served from host memory.
    expect(await cli("CONFIG", "GET", "maxmemory")).toBe(`maxmemory\n${6 * 1024 ** 3}`);
  });
});
