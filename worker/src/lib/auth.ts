/**
 * Who is calling. Session tokens are HS256 JWTs signed with JWT_SECRET through
 * @tsndr/cloudflare-worker-jwt (its one job); API keys are looked up by SHA-256.
 * (jose has the other job: the platform's asymmetric lease signatures and their key set.)
 */
import jwt from "@tsndr/cloudflare-worker-jwt";
import { and, eq, isNull } from "drizzle-orm";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { apiKeys, users } from "../db/schema";
import { ApiError } from "./errors";
import type { AppBindings } from "./openapi";
import { looksLikeApiKey, sha256Hex } from "./crypto";

export type Role = "user" | "provider" | "admin";
export interface AuthUser {
  id: string;
  email: string;
  role: Role;
  via: "token" | "api_key";
}

export const ACCESS_TOKEN_TTL_SEC = 86_400;
const ISSUER = "mnemo";

/** Throws 500 `misconfigured` without JWT_SECRET: called before anything is written or checked. */
export function assertConfigured(env: AppBindings["Bindings"]): void {
  secret(env);
}

function secret(env: AppBindings["Bindings"]): string {
  if (!env.JWT_SECRET) throw new ApiError("misconfigured", "the server has no JWT_SECRET configured");
  return env.JWT_SECRET;
}

export async function issueAccessToken(env: AppBindings["Bindings"], user: { id: string; email: string; role: Role }) {
  const now = Math.floor(Date.now() / 1000);
  return jwt.sign(
    { sub: user.id, email: user.email, role: user.role, iss: ISSUER, iat: now, exp: now + ACCESS_TOKEN_TTL_SEC, jti: crypto.randomUUID() },
    secret(env),
    { algorithm: "HS256" },
  );
}

/** Verifies signature, algorithm (HS256 only: `alg: none` and others are refused) and expiry. */
export async function verifyAccessToken(env: AppBindings["Bindings"], token: string): Promise<AuthUser | null> {
  const key = secret(env);
  let decoded: Awaited<ReturnType<typeof jwt.verify<{ sub?: string; email?: string; role?: Role; iss?: string }>>>;
  try {
    const header = jwt.decode(token).header as { alg?: string } | undefined;
    if (header?.alg !== "HS256") return null;
    decoded = await jwt.verify<{ sub?: string; email?: string; role?: Role; iss?: string }>(token, key, {
      algorithm: "HS256",
      throwError: false,
    });
  } catch {
    return null;
  }
  const p = decoded?.payload;
  if (!p || p.iss !== ISSUER || typeof p.sub !== "string" || !p.role || typeof (p as { exp?: number }).exp !== "number") return null;
  return { id: p.sub, email: p.email ?? "", role: p.role, via: "token" };
}

async function userFromApiKey(c: Context<AppBindings>, key: string): Promise<AuthUser | null> {
  if (!looksLikeApiKey(key)) return null;
  const hash = await sha256Hex(key);
  const row = await c.var.db
    .select({ keyId: apiKeys.id, lastUsedAt: apiKeys.lastUsedAt, id: users.id, email: users.email, role: users.role })
    .from(apiKeys)
    .innerJoin(users, eq(users.id, apiKeys.userId))
    .where(and(eq(apiKeys.keyHash, hash), isNull(apiKeys.revokedAt)))
    .get();
  if (!row) return null;
  const now = Date.now();
  // Recording every use would make each heartbeat a write; once a minute is enough to show activity.
  if (!row.lastUsedAt || now - row.lastUsedAt > 60_000) {
    c.executionCtx.waitUntil(
      c.var.db
        .update(apiKeys)
        .set({ lastUsedAt: now })
        .where(eq(apiKeys.id, row.keyId))
        .run()
        .then(
          () => undefined,
          () => undefined,
        ),
    );
  }
  return { id: row.id, email: row.email, role: row.role, via: "api_key" };
}

/** Resolves the caller from `Authorization: Bearer` or `X-API-Key`; sets `c.var.user` or throws 401. */
export async function authenticate(c: Context<AppBindings>): Promise<AuthUser> {
  secret(c.env); // misconfiguration is reported before anything else
  const header = c.req.header("authorization");
  const apiKey = c.req.header("x-api-key");
  let user: AuthUser | null = null;
  if (header) {
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (m) user = looksLikeApiKey(m[1]) ? await userFromApiKey(c, m[1]) : await verifyAccessToken(c.env, m[1]);
  } else if (apiKey) {
    user = await userFromApiKey(c, apiKey.trim());
  }
  if (!user) {
    throw new ApiError(
      "unauthenticated",
      header || apiKey ? "invalid or expired credentials" : "authentication required: send Authorization: Bearer <token> or X-API-Key",
    );
  }
  c.set("user", user);
  return user;
}

/** Requires an authenticated caller, optionally with one of `roles` (admins pass every role check). */
export function requireAuth(...roles: Role[]) {
  return createMiddleware<AppBindings>(async (c, next) => {
    const user = await authenticate(c);
    if (roles.length && user.role !== "admin" && !roles.includes(user.role)) {
      throw new ApiError("forbidden", `this action needs the ${roles.join(" or ")} role`);
    }
    await next();
  });
}

export function requireAdmin() {
  return createMiddleware<AppBindings>(async (c, next) => {
    const user = await authenticate(c);
    if (user.role !== "admin") throw new ApiError("forbidden", "admins only");
    await next();
  });
}

/** The authenticated caller inside a handler behind requireAuth. */
export function caller(c: { get(key: "user"): AuthUser | undefined }): AuthUser {
  const u = c.get("user");
  if (!u) throw new ApiError("unauthenticated", "authentication required");
  return u;
}
