// Starts the real worker with `wrangler dev` (workerd, local D1, Durable Objects, Queues and the
// static site) on a free loopback port with its own fresh state, for the agent's end-to-end
// tests, the browser tests, the benchmarks and `npm start`.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const WRANGLER = join(ROOT, "node_modules/.bin/wrangler");
const ENV = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: process.env.CI ?? "true", NO_COLOR: "1" };

export function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

/** Applies the D1 migrations to the local database kept under `persistTo`. */
export function migrate(persistTo) {
  const args = ["d1", "migrations", "apply", "DB", "--local"];
  if (persistTo) args.push("--persist-to", persistTo);
  const r = spawnSync(WRANGLER, args, { cwd: ROOT, env: ENV, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`wrangler d1 migrations apply failed:\n${r.stdout}\n${r.stderr}`);
}

/**
 * @param {{ port?: number, vars?: Record<string,string>, persistTo?: string, fresh?: boolean, log?: (line: string) => void }} [opts]
 * @returns {Promise<{ url: string, port: number, persistTo: string, stop: () => Promise<void> }>}
 */
export async function startWorker(opts = {}) {
  mkdirSync(join(ROOT, "site/dist"), { recursive: true }); // [assets] needs the folder to exist
  const fresh = opts.persistTo === undefined;
  const persistTo = opts.persistTo ?? mkdtempSync(join(tmpdir(), "mnemo-worker-"));
  migrate(persistTo);
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await freePort());
    try {
      return await launch(opts, { persistTo, fresh, port });
    } catch (e) {
      // The free port was taken by another process between our probe and wrangler's bind (test
      // files start servers in parallel): take another one.
      if (opts.port === undefined && attempt < 5 && /Address already in use/.test(String(e?.message))) continue;
      if (fresh) rmSync(persistTo, { recursive: true, force: true });
      throw e;
    }
  }
}

async function launch(opts, { persistTo, fresh, port }) {
  const vars = { JWT_SECRET: "local-test-secret-please-change-0123456789", ...opts.vars };
  const args = [
    "dev",
    "--port",
    String(port),
    "--ip",
    "127.0.0.1",
    "--persist-to",
    persistTo,
    "--show-interactive-dev-session=false",
    "--log-level",
    "warn",
  ];
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  const child = spawn(WRANGLER, args, { cwd: ROOT, env: ENV, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  const onData = (d) => {
    const s = d.toString();
    output = (output + s).slice(-20000);
    if (opts.log) for (const line of s.split("\n")) if (line.trim()) opts.log(line);
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  let exited = false;
  child.on("exit", () => (exited = true));
  while (true) {
    if (exited) throw new Error(`wrangler dev exited before it was ready:\n${output}`);
    try {
      const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      if (r.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      process.kill(-child.pid, "SIGKILL");
      throw new Error(`wrangler dev did not become ready in 90 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const stop = async () => {
    if (!exited) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        /* already gone */
      }
      await new Promise((r) => {
        const t = setTimeout(() => {
          try {
            process.kill(-child.pid, "SIGKILL");
          } catch {}
          r();
        }, 5000);
        child.on("exit", () => {
          clearTimeout(t);
          r();
        });
      });
    }
    if (fresh) rmSync(persistTo, { recursive: true, force: true });
  };
  return { url, port, persistTo, stop, output: () => output };
}
