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
  console.log("Installing dependencies — the first run takes a minute or two…");
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false" };
  let r = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: root, stdio: ["ignore", "inherit", "pipe"], env, encoding: "utf8" });
  if (r.status !== 0 && /Missing: .* from lock file/.test(r.stderr ?? "")) {
    // A registry mirror without other platforms' optional binaries (workerd, the Astro compiler)
    // leaves them out of the lockfile, and npm 11's `ci` then refuses it; `install` uses the same
    // locked versions for everything this platform needs, without rewriting the lockfile.
    console.log("npm ci cannot use this lockfile on this registry; installing the locked versions with npm install…");
    r = spawnSync("npm", ["install", "--no-audit", "--no-fund", "--no-save"], { cwd: root, stdio: "inherit", env });
  } else if (r.status !== 0) process.stderr.write(r.stderr ?? "");
  if (r.status !== 0) {
    console.error("Installing the dependencies failed; see the messages above.");
    process.exit(r.status ?? 1);
  }
}
