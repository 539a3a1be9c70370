#!/usr/bin/env node
// `mnemo`, the renter's CLI. Runs the compiled dist/ like mnemo-agent does; in a checkout (src/
// present) dist/ is rebuilt first when any source is newer, so an edit is never run stale.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const srcDir = fileURLToPath(new URL("../src/", import.meta.url));
const distMain = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const distEntry = new URL("../dist/renter/main.js", import.meta.url);
const build = fileURLToPath(new URL("../scripts/build.mjs", import.meta.url));

function newestSource(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith(".ts")) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

// dist/main.js is written last by the build: newer than every source means "built".
const stale = () => !existsSync(distMain) || !existsSync(fileURLToPath(distEntry)) || newestSource(srcDir) > statSync(distMain).mtimeMs;

if (existsSync(srcDir) && existsSync(build) && stale()) {
  const r = spawnSync(process.execPath, [build, "--quiet"], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  if (r.status !== 0) {
    process.stderr.write(`mnemo: cannot build the CLI: ${(r.stderr || r.error?.message || "").trim()}\n`);
    process.exit(1);
  }
}
if (!existsSync(fileURLToPath(distEntry))) {
  process.stderr.write("mnemo: this installation has no dist/; reinstall the package.\n");
  process.exit(1);
}
const { main } = await import(distEntry.href);
process.exit(await main(process.argv.slice(2)));
