/// <reference types="vite/client" />
/**
 * Dependencies flow one way (docs/architecture.md): no two folders of worker/src import each other
 * at run time. A static scan of the import statements (type-only imports vanish at build time and
 * do not count); each file at the top of worker/src (app.ts, index.ts, env.ts, region-cluster.ts)
 * counts as its own unit. A new import that closes a cycle fails here.
 */
import { describe, expect, it } from "vitest";

const sources = import.meta.glob(["../**/*.ts", "!../**/*.test.ts"], { query: "?raw", import: "default", eager: true }) as Record<
  string,
  string
>;

/** "../contracts/lifecycle.ts" → "contracts"; a top-level file is its own unit. */
function unitOf(path: string): string {
  return path.replace(/^\.\.\//, "").split("/")[0];
}

function resolve(from: string, spec: string): string {
  const parts = from.split("/").slice(0, -1);
  for (const seg of spec.split("/")) {
    if (seg === "..") parts.pop();
    else if (seg !== ".") parts.push(seg);
  }
  const p = parts.join("/");
  return p.endsWith(".ts") ? p : `${p}.ts`;
}

/** Run-time imports only: `import type …`, `export type …` and `{ type A, type B }` are skipped. */
function runtimeImports(src: string): string[] {
  const out: string[] = [];
  for (const m of src.matchAll(/^(?:import|export)\s+(?!type\s)([^;]*?)\s+from\s+"(\.[^"]+)"/gms)) {
    const named = m[1].match(/^\{([^}]*)\}$/s);
    if (
      named &&
      named[1]
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
        .every((s) => s.startsWith("type "))
    )
      continue;
    out.push(m[2]);
  }
  for (const m of src.matchAll(/^import\s+"(\.[^"]+)"/gm)) out.push(m[1]);
  return out;
}

function graph(files: Record<string, string>): Map<string, Set<string>> {
  const g = new Map<string, Set<string>>();
  for (const [path, src] of Object.entries(files)) {
    const from = unitOf(path);
    for (const spec of runtimeImports(src)) {
      const to = unitOf(resolve(path, spec));
      if (to === from) continue;
      if (!g.has(from)) g.set(from, new Set());
      g.get(from)!.add(to);
    }
  }
  return g;
}

/** The edges that lie on a cycle: a → b where b reaches a again. */
function cyclicEdges(g: Map<string, Set<string>>): string[] {
  const reaches = (a: string, target: string) => {
    const seen = new Set<string>();
    const stack = [a];
    while (stack.length) {
      const n = stack.pop()!;
      if (n === target) return true;
      if (seen.has(n)) continue;
      seen.add(n);
      for (const m of g.get(n) ?? []) stack.push(m);
    }
    return false;
  };
  const out: string[] = [];
  for (const [a, tos] of g) for (const b of tos) if (reaches(b, a)) out.push(`${a} -> ${b}`);
  return out.sort();
}

describe("dependencies flow one way", () => {
  it("reads the worker's sources", () => {
    expect(Object.keys(sources).length).toBeGreaterThan(50);
    expect(Object.keys(sources)).toContain("../contracts/lifecycle.ts");
  });

  it("finds a cycle when there is one, and ignores type-only imports", () => {
    const files = {
      "../a/x.ts": `import { y } from "../b/y";\nimport type { Z } from "../c/z";`,
      "../b/y.ts": `import { x } from "../a/x";`,
      "../c/z.ts": `import { type X } from "../a/x";\nexport type Z = 1;`,
    };
    expect(cyclicEdges(graph(files))).toEqual(["a -> b", "b -> a"]);
  });

  it("no folder imports another that imports it back", () => {
    expect(cyclicEdges(graph(sources))).toEqual([]);
  });
});
