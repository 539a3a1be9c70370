/**
 * A fuzz of every operation in the OpenAPI document, against the real worker on real D1: bodies
 * and queries generated from the document's own schemas (fast-check), plus raw garbage (wrong
 * types, huge numbers, deep nesting, invalid UTF-8, __proto__ / constructor keys, oversized
 * bodies). The verdicts: no 5xx, every error in the envelope, and a refused request writes nothing
 * (every table's row count is the same before and after it).
 *
 * Deterministic: one fixed seed, and a bounded number of requests per operation, so the run takes
 * a few seconds (well under a minute on a loaded machine).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SELF } from "cloudflare:test";
import { adminAccount, api, env, register, registerNode, type Account } from "../../test/helpers";

const SEED = 20261122;
const SCHEMA_RUNS = 6;
const MiB = 1024 * 1024;

type Schema = Record<string, any>;

/** A fast-check arbitrary for a JSON Schema of the document (the subset zod-openapi emits). */
function arbitraryOf(schema: Schema | undefined, doc: Schema, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > 6) return fc.constant(null);
  if (schema.$ref) return arbitraryOf(doc.components.schemas[String(schema.$ref).split("/").pop()!], doc, depth + 1);
  const alts = schema.anyOf ?? schema.oneOf;
  if (alts) return fc.oneof(...alts.map((s: Schema) => arbitraryOf(s, doc, depth + 1)));
  if (schema.allOf) return arbitraryOf(schema.allOf[0], doc, depth + 1);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if ("const" in schema) return fc.constant(schema.const);
  const type = Array.isArray(schema.type) ? schema.type : [schema.type];
  const one = (t: string): fc.Arbitrary<unknown> => {
    switch (t) {
      case "string": {
        if (schema.format === "uuid") return fc.uuid();
        if (schema.format === "email") return fc.emailAddress();
        if (schema.pattern) {
          try {
            return fc.stringMatching(new RegExp(schema.pattern), { size: "small" });
          } catch {
            /* a pattern fast-check cannot invert: plain strings */
          }
        }
        return fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 40, 300) });
      }
      case "integer":
        return fc.integer({ min: Math.max(schema.minimum ?? -1e6, -1e9), max: Math.min(schema.maximum ?? 1e6, 1e9) });
      case "number":
        return fc.oneof(
          fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true, noDefaultInfinity: true }),
          fc.integer({ min: Math.ceil(schema.minimum ?? -1e6), max: Math.floor(schema.maximum ?? 1e6) }),
        );
      case "boolean":
        return fc.boolean();
      case "null":
        return fc.constant(null);
      case "array":
        return fc.array(arbitraryOf(schema.items, doc, depth + 1), { maxLength: Math.min(schema.maxItems ?? 3, 3) });
      case "object": {
        const props: Record<string, fc.Arbitrary<unknown>> = {};
        for (const [k, s] of Object.entries<Schema>(schema.properties ?? {})) props[k] = arbitraryOf(s, doc, depth + 1);
        if (!Object.keys(props).length) return fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 });
        return fc.record(props, { requiredKeys: (schema.required ?? []).filter((k: string) => k in props) });
      }
      default:
        return fc.jsonValue({ maxDepth: 2 });
    }
  };
  return fc.oneof(...type.filter(Boolean).map(one));
}

/** Raw bodies no schema would produce. Each is a string or bytes sent as application/json. */
function garbageBodies(valid: unknown): (string | Uint8Array)[] {
  const deep = 100_000;
  const obj = valid && typeof valid === "object" && !Array.isArray(valid) ? (valid as Record<string, unknown>) : {};
  const firstKey = Object.keys(obj)[0] ?? "x";
  return [
    "",
    "null",
    "[]",
    '"a string"',
    "1e400",
    "{",
    "[".repeat(deep) + "]".repeat(deep),
    '{"a":' + "[".repeat(deep) + "]".repeat(deep) + "}",
    JSON.stringify({ ...obj, [firstKey]: 1e308 }),
    JSON.stringify({ ...obj, [firstKey]: -Number.MAX_VALUE }),
    JSON.stringify({ ...obj, [firstKey]: Number.MAX_SAFE_INTEGER + 2 }),
    JSON.stringify({ ...obj, [firstKey]: { nested: [1, { deeper: true }] } }),
    JSON.stringify({ ...obj, [firstKey]: "x".repeat(100_000) }),
    JSON.stringify({ ...obj, metadata: JSON.parse("[".repeat(5000) + "]".repeat(5000)) }),
    JSON.stringify(obj).replace(/^\{/, '{"__proto__":{"role":"admin","isAdmin":true},"constructor":{"prototype":{"polluted":1}},'),
    '{"__proto__":{"admin":true}}',
    new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x3a, 0xed, 0xa0, 0x80, 0x7d]),
    new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(JSON.stringify(obj))]),
    JSON.stringify({ ...obj, pad: "y".repeat(MiB) }),
  ];
}

const QUERY_GARBAGE = [
  "limit=-1",
  "limit=1e309",
  "offset=NaN",
  "limit=99999999999999999999",
  "region=%00",
  "region=" + "a".repeat(500),
  "from=2020-13-45",
  "to=%F0%9F%92%A9",
  "bucket[]=day",
  "client_lat=1&client_lng=",
  "__proto__[x]=1",
  "status=active&status=offline",
  "min_ram=0x10",
];
const PATH_GARBAGE = ["not-a-uuid", "%00", "..%2F..%2Fadmin", "0".repeat(300), "%E2%80%AE", crypto.randomUUID()];

async function tableCounts(): Promise<Record<string, number>> {
  const tables = await env.DB.prepare(
    `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name != 'd1_migrations'`,
  ).all<{ name: string }>();
  const counts = await env.DB.batch<{ n: number }>(tables.results.map((t) => env.DB.prepare(`SELECT COUNT(*) AS n FROM "${t.name}"`)));
  return Object.fromEntries(tables.results.map((t, i) => [t.name, counts[i].results[0].n]));
}

describe("fuzz: every operation of the OpenAPI document", () => {
  it("never answers 5xx, always uses the error envelope, and writes nothing when it refuses", async () => {
    const started = Date.now();
    const doc = (await api("GET", "/api/openapi.json")).body;
    const provider = await register("provider");
    const renter = await register("user");
    const admin = await adminAccount();
    const node = await registerNode(provider);
    const accounts: Account[] = [provider, renter, admin];
    const problems: string[] = [];
    let requests = 0;
    let snapshot = await tableCounts();

    const send = async (method: string, path: string, body: string | Uint8Array | undefined, who: Account | undefined) => {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (who) headers.authorization = `Bearer ${who.token}`;
      const before = snapshot;
      const res = await SELF.fetch(`https://mnemo.test${path}`, { method, headers, body: method === "GET" ? undefined : body });
      const text = await res.text();
      requests++;
      const label = `${method} ${path.slice(0, 120)} body=${typeof body === "string" ? body.slice(0, 80) : body ? `<${body.byteLength} bytes>` : "none"}`;
      if (res.status >= 500) problems.push(`${res.status} for ${label}: ${text.slice(0, 200)}`);
      if (res.status >= 400) {
        let parsed: any = null;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* checked below */
        }
        if (typeof parsed?.error?.code !== "string" || typeof parsed?.error?.message !== "string")
          problems.push(`no error envelope (${res.status}) for ${label}: ${text.slice(0, 200)}`);
        if (/\bat .*\(.*:\d+:\d+\)|\.ts:\d+:\d+|node_modules\//.test(text)) problems.push(`stack trace leaked for ${label}`);
        const after = await tableCounts();
        // The one write a refusal makes on purpose: a failed sign-in (or a sign-up attempt) is
        // counted by the throttle (auth/throttle.ts).
        const throttled = /^\/api\/auth\/(login|register)\b/.test(path) ? ["auth_throttle"] : [];
        const changed = Object.keys(after).filter((t) => after[t] !== before[t] && !throttled.includes(t));
        if (changed.length) problems.push(`refused (${res.status}) but wrote to ${changed.join(", ")}: ${label}`);
        snapshot = after;
      } else {
        snapshot = await tableCounts(); // an accepted request may write: the next comparison starts here
      }
    };

    const ops = Object.entries<Record<string, Schema>>(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([m, op]) => ({ method: m.toUpperCase(), path, op })),
    );
    let opIndex = 0;
    for (const { method, path, op } of ops) {
      opIndex++;
      const fill = (template: string, garbage?: string) =>
        template.replace(
          /\{([^}]+)\}/g,
          (_, name: string) =>
            garbage ?? (name === "region" ? node.region : name === "client_id" ? renter.clientId : name.includes("id") ? node.id : "x"),
        );
      const bodySchema = op.requestBody?.content?.["application/json"]?.schema;
      const queryParams = (op.parameters ?? []).filter((p: Schema) => p.in === "query");
      const querySchema = {
        type: "object",
        properties: Object.fromEntries(queryParams.map((p: Schema) => [p.name, p.schema])),
        required: [],
      };
      const samples = fc.sample(
        fc.record({
          body: arbitraryOf(bodySchema, doc),
          query: arbitraryOf(querySchema, doc),
          who: fc.constantFrom<Account | undefined>(...accounts, undefined),
        }),
        { seed: SEED + opIndex, numRuns: SCHEMA_RUNS },
      );
      for (const s of samples) {
        const qs = new URLSearchParams(
          Object.entries((s.query ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
        ).toString();
        await send(method, fill(path) + (qs ? `?${qs}` : ""), bodySchema ? JSON.stringify(s.body) : undefined, s.who);
      }
      const who = accounts[opIndex % accounts.length];
      if (bodySchema) for (const g of garbageBodies(samples[0]?.body)) await send(method, fill(path), g, who);
      for (const q of QUERY_GARBAGE.slice(0, queryParams.length ? QUERY_GARBAGE.length : 2))
        await send(method, `${fill(path)}?${q}`, undefined, who);
      if (path.includes("{")) for (const g of PATH_GARBAGE) await send(method, fill(path, g), bodySchema ? "{}" : undefined, who);
    }

    console.log(`fuzz: ${requests} requests over ${ops.length} operations in ${Date.now() - started} ms`);
    expect(problems).toEqual([]);
    expect(requests).toBeGreaterThan(ops.length * 10);
    // Bounded: the suite stays well inside a minute even on a loaded machine.
    expect(Date.now() - started).toBeLessThan(60_000);
  }, 120_000);
});
