import { describe, expect, it } from "vitest";
import jwt from "@tsndr/cloudflare-worker-jwt";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { api, env, expectError, register, registerNode, uniqueEmail } from "../../test/helpers";
import { createApp } from "../app";
import {
  PBKDF2_ITERATIONS,
  PBKDF2_MAX_ITERATIONS_ON_WORKERS,
  generateApiKey,
  hashPassword,
  looksLikeApiKey,
  sha256Hex,
  verifyPassword,
} from "../lib/crypto";

describe("passwords and keys (pure parts)", () => {
  it("keeps PBKDF2 within the Workers production cap", () => {
    expect(PBKDF2_ITERATIONS).toBeLessThanOrEqual(100_000);
    expect(PBKDF2_MAX_ITERATIONS_ON_WORKERS).toBe(100_000);
  });

  it("hashes in a self-describing format and verifies only the right password", async () => {
    const h = await hashPassword("s3cret-password");
    expect(h).toMatch(/^pbkdf2-sha256\$100000\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(await verifyPassword("s3cret-password", h)).toBe(true);
    expect(await verifyPassword("s3cret-passwore", h)).toBe(false);
    expect(await hashPassword("s3cret-password")).not.toBe(h); // salted
    await expect(hashPassword("x", 100_001)).rejects.toThrow();
    expect(await verifyPassword("x", "md5$abc")).toBe(false);
  });

  it("makes API keys with a readable prefix and stores only their digest", async () => {
    const k = await generateApiKey();
    expect(k.key).toMatch(/^mnemo_[0-9A-Za-z]{40}$/);
    expect(looksLikeApiKey(k.key)).toBe(true);
    expect(k.display).toBe(k.key.slice(0, 14));
    expect(k.hash).toBe(await sha256Hex(k.key));
    expect((await generateApiKey()).key).not.toBe(k.key);
  });
});

describe("register and login", () => {
  it("registers a renter with a profile and a 24 h HS256 token", async () => {
    const email = uniqueEmail();
    const r = await api("POST", "/api/auth/register", {
      body: { email: email.toUpperCase(), password: "longenough", full_name: "Ada", organization: "Analytical" },
    });
    expect(r.status).toBe(201);
    expect(r.body.user).toMatchObject({ email, role: "user", full_name: "Ada", organization: "Analytical" });
    expect(r.body.user.password_hash).toBeUndefined();
    expect(r.body).toMatchObject({ token_type: "bearer", expires_in: 86400 });
    const { header, payload } = jwt.decode(r.body.access_token) as any;
    expect(header.alg).toBe("HS256");
    expect(payload.sub).toBe(r.body.user.id);
    expect(payload.exp - payload.iat).toBe(86400);
    const me = await api("GET", "/api/auth/me", { token: r.body.access_token });
    expect(me.status).toBe(200);
    expect(me.body.user.id).toBe(r.body.user.id);
    expect(me.body.client).toMatchObject({ org_name: "Analytical", prefer_local: true, budget_monthly_usd: null, current_spend_usd: 0 });
  });

  it("lets a provider register, never an admin", async () => {
    const p = await api("POST", "/api/auth/register", { body: { email: uniqueEmail(), password: "longenough", role: "provider" } });
    expect(p.body.user.role).toBe("provider");
    const a = await api("POST", "/api/auth/register", { body: { email: uniqueEmail(), password: "longenough", role: "admin" } });
    expectError(a, 400, "validation_failed");
    expect(a.body.error.details[0].field).toBe("role");
  });

  it("makes ADMIN_EMAILS admins (matched case-insensitively), and nobody else", async () => {
    // Its own app and ADMIN_EMAILS, so the outcome depends on nothing another test registered.
    const boss = uniqueEmail("boss");
    const app = createApp();
    const adminEnv = { ...env, ADMIN_EMAILS: ` other@test.mnemo , ${boss.toUpperCase()} ` };
    const signUp = async (email: string, role?: string) => {
      const ctx = createExecutionContext();
      const res = await app.fetch(
        new Request("https://mnemo.test/api/auth/register", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ email, password: "admin password 123", ...(role ? { role } : {}) }),
        }),
        adminEnv,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      return { status: res.status, body: (await res.json()) as any };
    };
    const r = await signUp(boss, "provider");
    expect(r.status).toBe(201);
    expect(r.body.user.role).toBe("admin");
    const row = await env.DB.prepare("SELECT role FROM users WHERE email = ?").bind(boss).first<{ role: string }>();
    expect(row!.role).toBe("admin");
    const admin = await api("GET", "/api/admin/overview", { token: r.body.access_token });
    expect(admin.status).toBe(200);
    const plain = await signUp(uniqueEmail("plain"));
    expect(plain.body.user.role).toBe("user");
  });

  it("refuses a taken email with 409, even when two sign-ups race", async () => {
    const email = uniqueEmail();
    const results = await Promise.all([0, 1, 2].map(() => api("POST", "/api/auth/register", { body: { email, password: "longenough" } })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    for (const r of results.filter((r) => r.status !== 201)) expectError(r, 409, "conflict");
  });

  it("validates each field and names it", async () => {
    const r = await api("POST", "/api/auth/register", { body: { email: "not-an-email", password: "short" } });
    expectError(r, 400, "validation_failed");
    const fields = r.body.error.details.map((d: any) => d.field).sort();
    expect(fields).toEqual(["email", "password"]);
    expect(r.body.error.details.find((d: any) => d.field === "password").message).toBe("must be at least 8 characters");
  });

  it("answers malformed JSON and missing bodies with 400 in the envelope", async () => {
    expectError(await api("POST", "/api/auth/register", { raw: "{not json" }), 400, "validation_failed");
    expectError(await api("POST", "/api/auth/login", {}), 400, "validation_failed");
  });

  it("logs in, with one message for a wrong email and a wrong password", async () => {
    const u = await register();
    const ok = await api("POST", "/api/auth/login", { body: { email: u.email, password: "correct horse battery" } });
    expect(ok.status).toBe(200);
    expect(ok.body.user.id).toBe(u.id);
    const wrongPw = await api("POST", "/api/auth/login", { body: { email: u.email, password: "wrong horse battery" } });
    const wrongEmail = await api("POST", "/api/auth/login", { body: { email: uniqueEmail(), password: "correct horse battery" } });
    expectError(wrongPw, 401, "unauthenticated");
    expectError(wrongEmail, 401, "unauthenticated");
    expect(wrongPw.body.error.message).toBe(wrongEmail.body.error.message);
  });
});

describe("tokens", () => {
  it("refuses missing, forged, alg:none and expired tokens", async () => {
    const u = await register();
    expectError(await api("GET", "/api/auth/me"), 401, "unauthenticated");
    expectError(await api("GET", "/api/auth/me", { token: "garbage" }), 401, "unauthenticated");
    const forged = await jwt.sign({ sub: u.id, role: "admin", iss: "mnemo", exp: Math.floor(Date.now() / 1000) + 60 }, "another-secret");
    expectError(await api("GET", "/api/auth/me", { token: forged }), 401, "unauthenticated");
    const [h, p] = u.token.split(".");
    const claims = JSON.parse(atob(p.replace(/-/g, "+").replace(/_/g, "/")));
    const b64 = (o: unknown) => btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    const none = `${b64({ alg: "none", typ: "JWT" })}.${b64({ ...claims, role: "admin" })}.`;
    expectError(await api("GET", "/api/auth/me", { token: none }), 401, "unauthenticated");
    const tampered = `${h}.${b64({ ...claims, role: "admin" })}.${u.token.split(".")[2]}`;
    expectError(await api("GET", "/api/auth/me", { token: tampered }), 401, "unauthenticated");
    const expired = await jwt.sign(
      { sub: u.id, role: "user", iss: "mnemo", iat: 1, exp: Math.floor(Date.now() / 1000) - 10 },
      env.JWT_SECRET!,
    );
    expectError(await api("GET", "/api/auth/me", { token: expired }), 401, "unauthenticated");
  });
});

describe("renter profile", () => {
  it("updates the profile and validates it", async () => {
    const u = await register();
    // default_region must name a region that exists: one node makes eu-west exist.
    await registerNode(await register("provider"), { region: "eu-west" });
    const r = await api("PUT", "/api/auth/me/client", {
      token: u.token,
      body: {
        default_region: "eu-west",
        latitude: 52.52,
        longitude: 13.4,
        budget_monthly_usd: 250.5,
        prefer_local: false,
        max_latency_ms: 20,
        min_reliability: 90,
      },
    });
    expect(r.status).toBe(200);
    expect(r.body.client).toMatchObject({
      default_region: "eu-west",
      latitude: 52.52,
      longitude: 13.4,
      budget_monthly_usd: 250.5,
      prefer_local: false,
      max_latency_ms: 20,
      min_reliability: 90,
    });
    expectError(await api("PUT", "/api/auth/me/client", { token: u.token, body: { latitude: 123 } }), 400, "validation_failed");
    expectError(
      await api("PUT", "/api/auth/me/client", { token: u.token, body: { budget_monthly_usd: 1.0000001 } }),
      400,
      "validation_failed",
    );
    expectError(await api("PUT", "/api/auth/me/client", { token: u.token, body: { balance_usd: 1000 } }), 400, "validation_failed");
  });
});

describe("API keys", () => {
  it("creates a key shown once, lists it by prefix, authenticates with it, and revokes it at once", async () => {
    const u = await register("provider");
    const created = await api("POST", "/api/auth/api-keys", { token: u.token, body: { name: "laptop" } });
    expect(created.status).toBe(201);
    const key = created.body.api_key as string;
    expect(created.body.prefix).toBe(key.slice(0, 14));
    const list = await api("GET", "/api/auth/api-keys", { token: u.token });
    expect(list.body.api_keys).toHaveLength(1);
    expect(list.body.api_keys[0]).toMatchObject({ id: created.body.id, name: "laptop", prefix: created.body.prefix });
    expect(JSON.stringify(list.body)).not.toContain(key);
    const stored = await env.DB.prepare("SELECT key_hash FROM api_keys WHERE id = ?").bind(created.body.id).first<{ key_hash: string }>();
    expect(stored!.key_hash).toBe(await sha256Hex(key));
    expect(JSON.stringify(stored)).not.toContain(key);

    const viaKey = await api("GET", "/api/auth/me", { apiKey: key });
    expect(viaKey.status).toBe(200);
    expect(viaKey.body.user.id).toBe(u.id);

    const other = await register("provider");
    expectError(await api("DELETE", `/api/auth/api-keys/${created.body.id}`, { token: other.token }), 404, "not_found");
    const del = await api("DELETE", `/api/auth/api-keys/${created.body.id}`, { token: u.token });
    expect(del.status).toBe(204);
    expectError(await api("GET", "/api/auth/me", { apiKey: key }), 401, "unauthenticated");
    expect((await api("GET", "/api/auth/api-keys", { token: u.token })).body.api_keys).toHaveLength(0);
    expectError(await api("DELETE", `/api/auth/api-keys/${created.body.id}`, { token: u.token }), 404, "not_found");
  });

  it("creates a key without a body", async () => {
    const u = await register();
    const r = await api("POST", "/api/auth/api-keys", { token: u.token });
    expect(r.status).toBe(201);
    expect(r.body.name).toBeNull();
  });

  it("refuses made-up keys", async () => {
    expectError(await api("GET", "/api/auth/me", { apiKey: "mnemo_" + "a".repeat(40) }), 401, "unauthenticated");
    expectError(await api("GET", "/api/auth/me", { apiKey: "nope" }), 401, "unauthenticated");
  });
});
