import { describe, expect, it } from "vitest";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { api, env, expectError, register, uniqueEmail } from "../../test/helpers";
import { createApp } from "../app";
import {
  blockSeconds,
  LOGIN_FREE_FAILURES_PER_ADDRESS,
  LOGIN_FREE_FAILURES_PER_EMAIL,
  REGISTRATIONS_PER_ADDRESS_PER_HOUR,
} from "./throttle";

const login = (email: string, password: string, ip?: string) =>
  api("POST", "/api/auth/login", { body: { email, password }, headers: ip ? { "cf-connecting-ip": ip } : {} });
/** A documentation address (RFC 5737) per test, so tests never share a counter. */
const ipOf = (n: number) => `198.51.100.${n}`;
/** Moves an email's or address's block into the past, as if its Retry-After had elapsed. */
const elapse = () => env.DB.prepare("UPDATE auth_throttle SET blocked_until = 0").run();

describe("the backoff (pure)", () => {
  it("is free within the allowance, then 1 s doubling, capped", () => {
    expect([1, 5, 6, 7, 8, 9].map((n) => blockSeconds(n, 5, 900))).toEqual([0, 0, 1, 2, 4, 8]);
    expect(blockSeconds(100, 5, 900)).toBe(900);
    expect(blockSeconds(10_000, 5, 900)).toBe(900);
  });
});

describe("login throttling", () => {
  it("blocks an email after repeated failures with an exponential Retry-After, then lets the owner in", async () => {
    const u = await register("user");
    for (let i = 0; i < LOGIN_FREE_FAILURES_PER_EMAIL; i++) expectError(await login(u.email, "wrong password!"), 401, "unauthenticated");
    // The 6th failure is still a 401 but sets a 1 s block; the next attempt is refused unchecked.
    expectError(await login(u.email, "wrong password!"), 401, "unauthenticated");
    const blocked = await login(u.email, "correct horse battery");
    expectError(blocked, 429, "rate_limited");
    expect(blocked.headers.get("retry-after")).toBe("1");
    // Refused attempts are not counted: the block does not grow while it lasts.
    await login(u.email, "wrong password!");
    expect(
      (await env.DB.prepare("SELECT failures FROM auth_throttle WHERE key LIKE 'login-email:%' AND failures = 6").all()).results,
    ).toHaveLength(1);

    // Once it has elapsed, each further failure doubles it.
    await elapse();
    expectError(await login(u.email, "wrong password!"), 401, "unauthenticated");
    expect((await login(u.email, "x")).headers.get("retry-after")).toBe("2");
    await elapse();
    expectError(await login(u.email, "wrong password!"), 401, "unauthenticated");
    expect((await login(u.email, "x")).headers.get("retry-after")).toBe("4");

    // Never forever: when the block is over, the right password works and clears the count.
    await elapse();
    const ok = await login(u.email, "correct horse battery");
    expect(ok.status).toBe(200);
    expectError(await login(u.email, "wrong password!"), 401, "unauthenticated");
  });

  it("caps an email's block at 15 minutes", async () => {
    const u = await register("user");
    for (let i = 0; i < 40; i++) {
      await elapse();
      await login(u.email, "wrong password!");
    }
    const r = await login(u.email, "correct horse battery");
    expectError(r, 429, "rate_limited");
    expect(Number(r.headers.get("retry-after"))).toBe(900);
  });

  it("treats unknown emails exactly like known ones (no enumeration through the throttle)", async () => {
    const known = await register("user");
    const unknown = uniqueEmail("ghost");
    const trace = async (email: string) => {
      const out: [number, string | null, string][] = [];
      for (let i = 0; i < LOGIN_FREE_FAILURES_PER_EMAIL + 2; i++) {
        const r = await login(email, "wrong password!");
        out.push([r.status, r.headers.get("retry-after"), r.body.error.message]);
      }
      return out;
    };
    expect(await trace(unknown)).toEqual(await trace(known.email));
    // Both wrote the same kind of row (hashed: no email in the table).
    const rows = await env.DB.prepare("SELECT key FROM auth_throttle").all<{ key: string }>();
    expect(rows.results.some((r) => r.key.includes("@"))).toBe(false);
  });

  it("blocks an address that guesses across many emails, without blocking those emails elsewhere", async () => {
    const ip = ipOf(7);
    const victims = await Promise.all([register("user"), register("user")]);
    for (let i = 0; i < LOGIN_FREE_FAILURES_PER_ADDRESS; i++)
      expectError(await login(uniqueEmail("spray"), "guess-" + i, ip), 401, "unauthenticated");
    expectError(await login(uniqueEmail("spray"), "one more", ip), 401, "unauthenticated");
    const r = await login(victims[0].email, "correct horse battery", ip);
    expectError(r, 429, "rate_limited");
    expect(r.headers.get("retry-after")).toBe("1");
    // The real owners, from their own addresses, are not affected.
    expect((await login(victims[0].email, "correct horse battery", ipOf(8))).status).toBe(200);
    expect((await login(victims[1].email, "correct horse battery")).status).toBe(200);
  });
});

describe("registration throttling", () => {
  it("allows a bounded number of sign-ups per address per hour", async () => {
    const ip = ipOf(20);
    const signUp = (addr: string) =>
      api("POST", "/api/auth/register", {
        body: { email: uniqueEmail("burst"), password: "correct horse battery" },
        headers: { "cf-connecting-ip": addr },
      });
    for (let i = 0; i < REGISTRATIONS_PER_ADDRESS_PER_HOUR; i++) expect((await signUp(ip)).status).toBe(201);
    const users = await env.DB.prepare("SELECT COUNT(*) AS n FROM users").first<{ n: number }>();
    const refused = await signUp(ip);
    expectError(refused, 429, "rate_limited");
    const retry = Number(refused.headers.get("retry-after"));
    expect(retry).toBeGreaterThan(3500);
    expect(retry).toBeLessThanOrEqual(3600);
    expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM users").first<{ n: number }>())!.n).toBe(users!.n);
    // Another address is unaffected.
    expect((await signUp(ipOf(21))).status).toBe(201);
  });
});

describe("configuration is checked first", () => {
  it("answers register and login with 500 misconfigured without JWT_SECRET, and writes nothing", async () => {
    const app = createApp();
    const bare = { ...env, JWT_SECRET: undefined };
    const count = async () => {
      const r = await env.DB.batch<{ n: number }>(
        ["users", "clients", "auth_throttle"].map((t) => env.DB.prepare(`SELECT COUNT(*) AS n FROM ${t}`)),
      );
      return r.map((x) => x.results[0].n);
    };
    const before = await count();
    const email = uniqueEmail("nosecret");
    const call = async (path: string) => {
      const ctx = createExecutionContext();
      const res = await app.fetch(
        new Request(`https://mnemo.test${path}`, {
          method: "POST",
          headers: { "content-type": "application/json", "cf-connecting-ip": ipOf(30) },
          body: JSON.stringify({ email, password: "correct horse battery" }),
        }),
        bare,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      return { status: res.status, body: (await res.json()) as any };
    };
    for (const path of ["/api/auth/register", "/api/auth/login"]) {
      const r = await call(path);
      expect(r.status).toBe(500);
      expect(r.body.error.code).toBe("misconfigured");
      expect(r.body.error.message).toMatch(/JWT_SECRET/);
    }
    expect(await count()).toEqual(before);
    expect(await env.DB.prepare("SELECT 1 FROM users WHERE email = ?").bind(email).first()).toBeNull();
    // With the secret, the same app and request work.
    const ctx = createExecutionContext();
    const ok = await app.fetch(
      new Request("https://mnemo.test/api/auth/register", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email, password: "correct horse battery" }),
      }),
      env,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(ok.status).toBe(201);
  });
});
