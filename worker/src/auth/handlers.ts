import { and, desc, eq, isNull } from "drizzle-orm";
import { config } from "../env";
import { regionExists } from "../db/clusters";
import { apiKeys, clients, users } from "../db/schema";
import { usdToMicro } from "../domain/money";
import { ACCESS_TOKEN_TTL_SEC, assertConfigured, caller, issueAccessToken } from "../lib/auth";
import { dummyPasswordHash, generateApiKey, hashPassword, verifyPassword } from "../lib/crypto";
import { ApiError, invalid, notFound } from "../lib/errors";
import type { AppRouteHandler } from "../lib/openapi";
import { iso } from "../lib/time";
import type * as routes from "./routes";
import { clientView, userView } from "./views";
import {
  assertLoginAllowed,
  assertRegistrationAllowed,
  clientAddress,
  loginKeys,
  recordLoginFailure,
  recordLoginSuccess,
} from "./throttle";

export const register: AppRouteHandler<typeof routes.register> = async (c) => {
  const body = c.req.valid("json");
  // A server that cannot sign the session must not create the account first and then fail.
  assertConfigured(c.env);
  const email = body.email.trim().toLowerCase();
  const role = config(c.env).adminEmails.has(email) ? "admin" : body.role;
  const now = Date.now();
  await assertRegistrationAllowed(c.env, clientAddress(c.req), now);
  const user = {
    id: crypto.randomUUID(),
    email,
    passwordHash: await hashPassword(body.password),
    role,
    fullName: body.full_name ?? null,
    organization: body.organization ?? null,
    stripeAccountId: null,
    createdAt: now,
  } as const;
  try {
    await c.var.db.batch([
      c.var.db.insert(users).values(user),
      c.var.db
        .insert(clients)
        .values({ id: crypto.randomUUID(), userId: user.id, orgName: body.organization ?? null, createdAt: now, updatedAt: now }),
    ]);
  } catch (e) {
    // The unique index decides, so two concurrent sign-ups with one email cannot both win.
    if (String((e as Error)?.message ?? e).includes("UNIQUE")) throw new ApiError("conflict", "an account with this email already exists");
    throw e;
  }
  const accessToken = await issueAccessToken(c.env, user);
  return c.json(
    { user: userView({ ...user }), access_token: accessToken, token_type: "bearer" as const, expires_in: ACCESS_TOKEN_TTL_SEC },
    201,
  );
};

export const login: AppRouteHandler<typeof routes.login> = async (c) => {
  const { email, password } = c.req.valid("json");
  assertConfigured(c.env);
  const now = Date.now();
  const keys = await loginKeys(email, clientAddress(c.req));
  await assertLoginAllowed(c.env, keys, now);
  const row = await c.var.db.select().from(users).where(eq(users.email, email.trim().toLowerCase())).get();
  // Same work and same answer whether the email exists or not: no account enumeration.
  const ok = await verifyPassword(password, row?.passwordHash ?? (await dummyPasswordHash()));
  if (!row || !ok) {
    await recordLoginFailure(c.env, keys, now);
    throw new ApiError("unauthenticated", "wrong email or password");
  }
  await recordLoginSuccess(c.env, keys);
  const accessToken = await issueAccessToken(c.env, row);
  return c.json({ user: userView(row), access_token: accessToken, token_type: "bearer" as const, expires_in: ACCESS_TOKEN_TTL_SEC }, 200);
};

async function loadMe(c: Parameters<AppRouteHandler<typeof routes.me>>[0], userId: string) {
  const row = await c.var.db.select().from(users).innerJoin(clients, eq(clients.userId, users.id)).where(eq(users.id, userId)).get();
  if (!row) throw new ApiError("unauthenticated", "this account no longer exists");
  return row;
}

export const me: AppRouteHandler<typeof routes.me> = async (c) => {
  const row = await loadMe(c, caller(c).id);
  return c.json({ user: userView(row.users), client: clientView(row.clients) }, 200);
};

export const updateClient: AppRouteHandler<typeof routes.updateClient> = async (c) => {
  const body = c.req.valid("json");
  const me = caller(c);
  const patch: Partial<typeof clients.$inferInsert> = { updatedAt: Date.now() };
  if (body.org_name !== undefined) patch.orgName = body.org_name;
  if (body.default_region !== undefined) {
    // Only a region that exists: contract updates are pushed to the renter's home region's object,
    // and an invented name must not bring one into being.
    if (body.default_region !== null && !(await regionExists(c.env.DB, body.default_region))) {
      throw invalid("default_region", "must be a region that exists (GET /api/clusters)");
    }
    patch.defaultRegion = body.default_region;
  }
  if (body.latitude !== undefined) patch.latitude = body.latitude;
  if (body.longitude !== undefined) patch.longitude = body.longitude;
  if (body.prefer_local !== undefined) patch.preferLocal = body.prefer_local ? 1 : 0;
  if (body.max_latency_ms !== undefined) patch.maxLatencyMs = body.max_latency_ms;
  if (body.min_reliability !== undefined) patch.minReliability = body.min_reliability;
  if (body.budget_monthly_usd !== undefined) {
    if (body.budget_monthly_usd === null) patch.budgetMonthlyMicro = null;
    else {
      const micro = usdToMicro(body.budget_monthly_usd);
      if (micro === null) throw invalid("budget_monthly_usd", "must have at most 6 decimal places");
      patch.budgetMonthlyMicro = micro;
    }
  }
  const updated = await c.var.db.update(clients).set(patch).where(eq(clients.userId, me.id)).returning().get();
  if (!updated) throw notFound("client profile");
  return c.json({ client: clientView(updated) }, 200);
};

export const createApiKey: AppRouteHandler<typeof routes.createApiKey> = async (c) => {
  const me = caller(c);
  let name: string | null = null;
  if (c.req.header("content-type")?.includes("application/json")) {
    const body = c.req.valid("json") as { name?: string } | undefined;
    name = body?.name ?? null;
  }
  const { key, hash, display } = await generateApiKey();
  const row = { id: crypto.randomUUID(), userId: me.id, name, prefix: display, keyHash: hash, createdAt: Date.now() };
  await c.var.db.insert(apiKeys).values(row);
  return c.json({ id: row.id, api_key: key, prefix: display, name, created_at: iso(row.createdAt)! }, 201);
};

export const listApiKeys: AppRouteHandler<typeof routes.listApiKeys> = async (c) => {
  const rows = await c.var.db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.userId, caller(c).id), isNull(apiKeys.revokedAt)))
    .orderBy(desc(apiKeys.createdAt))
    .all();
  return c.json(
    {
      api_keys: rows.map((k) => ({
        id: k.id,
        name: k.name,
        prefix: k.prefix,
        created_at: iso(k.createdAt)!,
        last_used_at: iso(k.lastUsedAt),
      })),
    },
    200,
  );
};

export const deleteApiKey: AppRouteHandler<typeof routes.deleteApiKey> = async (c) => {
  const { id } = c.req.valid("param");
  const res = await c.var.db
    .update(apiKeys)
    .set({ revokedAt: Date.now() })
    .where(and(eq(apiKeys.id, id), eq(apiKeys.userId, caller(c).id), isNull(apiKeys.revokedAt)))
    .run();
  // Another user's key id is indistinguishable from a missing one.
  if (res.meta.changes === 0) throw notFound("API key");
  return c.body(null, 204);
};
