#!/usr/bin/env node
// Runs the TypeScript sources directly where they exist (a checkout: no build step, so `npm ci`
// at the repository root is enough) and Node can strip types (>= 22.18); otherwise the compiled
// dist/ that the published package ships (built by `prepack`).
import { existsSync } from "node:fs";

const src = new URL("../src/main.ts", import.meta.url);
const dist = new URL("../dist/main.js", import.meta.url);
const canStrip = Boolean(process.features?.typescript);

if (existsSync(src) && canStrip) {
  await import(src.href);
} else if (existsSync(dist)) {
  await import(dist.href);
} else {
  process.stderr.write(
    existsSync(src)
      ? `mnemo-agent: Node ${process.versions.node} cannot run the TypeScript sources; use Node >= 22.18, or build first with \`npm run build -w mnemo-agent\`.\n`
      : "mnemo-agent: this installation has neither src/ nor dist/; reinstall the package.\n",
  );
  process.exit(1);
}
