#!/usr/bin/env node
// Runs the compiled dist/. In a checkout (src/ present) dist/ is rebuilt first when any source is
// newer, in a short child process, so an edit is never run stale and the agent itself never
// carries the TypeScript stripper in memory. The published package ships dist/ only.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

// The daemon runs with V8's optimising compilers (Maglev, TurboFan) on. It used to run
// interpreter-only (--no-opt --no-maglev) to save ~8 MB of resident memory while it only
// heartbeated; now it also serves every lease on the Redis-protocol endpoint, where the RESP
// parser and the keyspace are hot loops. Measured on this 2-core machine with redis-benchmark
// against a lease (-c 50): with the JIT, 2.5-2.7x the requests per second at -P 16 and for 4 KiB
// SETs, for ~9 MB more idle RSS (85 vs 76 MB). Renters pay for throughput, so the JIT stays on;
// bench/agent.bench.mjs measures the daemon this way and its RSS target says so.

const srcDir = fileURLToPath(new URL("../src/", import.meta.url));
const distMain = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const build = fileURLToPath(new URL("../scripts/build.mjs", import.meta.url));

/** Any source (src/ and its folders, e.g. src/lease/) newer than dist/main.js. */
function stale() {
  if (!existsSync(distMain)) return true;
  const built = statSync(distMain).mtimeMs;
  return readdirSync(srcDir, { recursive: true }).some((f) => String(f).endsWith(".ts") && statSync(srcDir + f).mtimeMs > built);
}

if (existsSync(srcDir) && existsSync(build) && stale()) {
  const r = spawnSync(process.execPath, [build, "--quiet"], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  if (r.status !== 0) {
    if (process.features?.typescript) {
      // Could not write dist/ (read-only checkout?): run the sources directly instead.
      await import(new URL("../src/main.ts", import.meta.url).href);
      process.exit(process.exitCode ?? 0); // unreachable in practice: main exits itself
    }
    process.stderr.write(`mnemo-agent: cannot build the agent: ${(r.stderr || r.error?.message || "").trim()}\n`);
    process.exit(1);
  }
}

if (!existsSync(distMain)) {
  process.stderr.write("mnemo-agent: this installation has no dist/; reinstall the package.\n");
  process.exit(1);
}
await import(new URL("../dist/main.js", import.meta.url).href);
