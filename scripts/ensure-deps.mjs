// Installs the dependencies when they are missing or older than package-lock.json, so that
// `npm start` and `npm test` work on a fresh clone. Runs on whatever Node started npm (it may be
// the system's older Node): plain JavaScript, no dependencies.
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const marker = join(root, "node_modules", ".package-lock.json");
const lock = join(root, "package-lock.json");
const pinnedNode = join(root, "node_modules", ".bin", "node");

const stale = !existsSync(marker) || !existsSync(pinnedNode) || statSync(marker).mtimeMs < statSync(lock).mtimeMs;
if (stale) {
  console.log("Installing dependencies (npm ci) — the first run takes a minute or two…");
  const r = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: root, stdio: "inherit", env: { ...process.env, WRANGLER_SEND_METRICS: "false" } });
  if (r.status !== 0) {
    console.error("npm ci failed; see the messages above.");
    process.exit(r.status ?? 1);
  }
}
