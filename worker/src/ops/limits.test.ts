import { describe, expect, it } from "vitest";
import { SELF } from "cloudflare:test";
import { env, expectError, register } from "../../test/helpers";

const MiB = 1024 * 1024;
const counts = async () =>
  (await env.DB.batch<{ n: number }>(["users", "nodes", "api_keys"].map((t) => env.DB.prepare(`SELECT COUNT(*) AS n FROM ${t}`)))).map(
    (r) => r.results[0].n,
  );
async function post(path: string, body: BodyInit, headers: Record<string, string> = {}) {
  const res = await SELF.fetch(`https://mnemo.test${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
    duplex: "half",
  } as RequestInit);
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text), headers: res.headers };
}
/** A body that arrives in chunks with no content-length (transfer-encoding: chunked). */
function chunked(total: number, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(c) {
      if (sent >= total) return c.close();
      const n = Math.min(chunk, total - sent);
      const bytes = new Uint8Array(n).fill(0x20); // spaces: valid JSON whitespace
      if (sent === 0) bytes.set(new TextEncoder().encode('{"email":"'), 0);
      sent += n;
      c.enqueue(bytes);
    },
  });
}

describe("request bodies over 1 MiB", () => {
  it("are refused with 413 payload_too_large before parsing, with or without content-length", async () => {
    const before = await counts();
    const big = JSON.stringify({ email: "big@test.mnemo", password: "x".repeat(MiB) });
    expectError(await post("/api/auth/register", big), 413, "payload_too_large");
    const p = await register("provider");
    expectError(await post("/api/nodes/register", big, { authorization: `Bearer ${p.token}` }), 413, "payload_too_large");
    expectError(await post("/api/auth/login", chunked(MiB + 1)), 413, "payload_too_large");
    expectError(await post("/api/payments/webhook", chunked(2 * MiB)), 413, "payload_too_large");
    const after = await counts();
    expect(after[0]).toBe(before[0] + 1); // only the provider registered above
    expect(after.slice(1)).toEqual(before.slice(1));
  });

  it("accepts a body of exactly 1 MiB (then judges its content)", async () => {
    const pad = MiB - JSON.stringify({ email: "a@b.co", password: "" }).length;
    const body = JSON.stringify({ email: "a@b.co", password: "x".repeat(pad) });
    expect(new TextEncoder().encode(body).byteLength).toBe(MiB);
    expectError(await post("/api/auth/login", body), 400, "validation_failed"); // the password is too long, not the body
    expectError(await post("/api/auth/login", chunked(MiB)), 400, "validation_failed"); // unterminated JSON, within the limit
  });
});

describe("node metadata is bounded", () => {
  it("refuses metadata nested deeper than 8 levels or larger than 16 KiB, with the field named", async () => {
    const { api } = await import("../../test/helpers");
    const p = await register("provider");
    const base = {
      node_type: "datacenter",
      name: "x",
      region: "meta-test",
      total_ram_gb: 1,
      total_vram_gb: 0,
      bandwidth_mbps: 1,
      base_latency_ms: 1,
      price_per_gb_sec: 0.000001,
    };
    const deep = JSON.stringify(base).replace(/\}$/, `,"metadata":{"a":${"[".repeat(50_000)}${"]".repeat(50_000)}}}`);
    const r1 = await api("POST", "/api/nodes/register", { token: p.token, raw: deep });
    expectError(r1, 400, "validation_failed");
    expect(r1.body.error.message).toBe("metadata must be nested at most 8 levels deep");
    const big = await api("POST", "/api/nodes/register", { token: p.token, body: { ...base, metadata: { notes: "n".repeat(17_000) } } });
    expectError(big, 400, "validation_failed");
    expect(big.body.error.details[0]).toEqual({ field: "metadata", message: "must be at most 16384 bytes as JSON" });
    const ok = await api("POST", "/api/nodes/register", {
      token: p.token,
      body: { ...base, metadata: { gpus: [{ model: "RTX 4090", vram_gb: 24 }], notes: "n".repeat(1000) } },
    });
    expect(ok.status).toBe(201);
    expectError(
      await api("PUT", `/api/nodes/${ok.body.node_id}`, {
        token: p.token,
        raw: JSON.stringify({ metadata: JSON.parse(`{"a":${"[".repeat(20)}${"]".repeat(20)}}`) }),
      }),
      400,
      "validation_failed",
    );
  });
});
