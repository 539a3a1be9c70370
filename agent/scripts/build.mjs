#!/usr/bin/env node
// Compiles src/*.ts to dist/*.js by erasing the types (the sources use erasable syntax only), so
// the agent runs as plain JavaScript: running the .ts files through Node's type stripping costs
// a long-running process ~20 MB of resident memory for the stripper itself.
//
// Uses node:module's stripTypeScriptTypes (Node >= 22.13) and falls back to TypeScript's
// transpileModule. Type checking is separate: `npm run typecheck -w mnemo-agent`.
//   --if-possible   exit 0 even when the build fails (npm's `prepare` must never break an install;
//                   the bin builds on first run or runs the sources directly)
//   --quiet         no success line
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as nodeModule from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const srcDir = join(root, "src");
const distDir = join(root, "dist");
const quiet = process.argv.includes("--quiet");
const ifPossible = process.argv.includes("--if-possible");

function stripper() {
  if (typeof nodeModule.stripTypeScriptTypes === "function") {
    // The API is marked experimental; its warning would only confuse someone running npm ci.
    const emit = process.emitWarning;
    return (code) => {
      process.emitWarning = () => {};
      try {
        return nodeModule.stripTypeScriptTypes(code, { mode: "strip" });
      } finally {
        process.emitWarning = emit;
      }
    };
  }
  const ts = createRequire(join(root, "package.json"))("typescript");
  return (code, file) =>
    ts.transpileModule(code, {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    }).outputText;
}

/** Relative `.ts` specifiers become `.js`, as they are in dist/. */
function rewriteImports(code) {
  return code.replace(/((?:from|import)\s*\(?\s*)(["'])(\.{1,2}\/[^"']+)\.ts\2/g, "$1$2$3.js$2");
}

try {
  const strip = stripper();
  // Recursive: the lease server lives in src/lease/.
  const files = readdirSync(srcDir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts") && !f.endsWith(".test.ts"));
  mkdirSync(distDir, { recursive: true });
  // main.js last: the bin treats dist/main.js newer than every source as "built".
  files.sort((a, b) => (a === "main.ts") - (b === "main.ts"));
  for (const f of files) {
    const out = join(distDir, f.replace(/\.ts$/, ".js"));
    mkdirSync(dirname(out), { recursive: true });
    const code = rewriteImports(strip(readFileSync(join(srcDir, f), "utf8"), f));
    const tmp = `${out}.${process.pid}.tmp`;
    writeFileSync(tmp, code);
    renameSync(tmp, out); // atomic: agents starting at the same moment never read half a file
  }
  if (!quiet) console.log(`mnemo-agent: built ${files.length} files into dist/`);
} catch (e) {
  console.error(`mnemo-agent: build failed: ${e.message}`);
  process.exit(ifPossible ? 0 : 1);
}
