import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../lib/auth";
import { IdParam, errors, jsonBody, jsonContent, security } from "../lib/openapi";
import * as s from "./schemas";

const tags = ["Auth"];

export const register = createRoute({
  method: "post",
  path: "/api/auth/register",
  tags,
  summary: "Create an account (renter or provider)",
  description: [
    "Without JWT_SECRET the server answers 500 `misconfigured` before anything is written: no account is created that could not sign in.",
    "At most 10 sign-up attempts per client address (CF-Connecting-IP) per hour; past that, 429 `rate_limited` with Retry-After until the hour is up. Attempts count, not successes, so a 409 cannot be used to test emails in bulk. Requests without a public client address (local development) have no per-address limit.",
  ].join("\n\n"),
  request: { body: jsonBody(s.RegisterBody) },
  responses: { 201: jsonContent(s.SessionSchema, "The new user and an access token"), ...errors(409, 429, 500) },
});

export const login = createRoute({
  method: "post",
  path: "/api/auth/login",
  tags,
  summary: "Exchange email and password for an access token",
  description: [
    "A wrong email and a wrong password get the same 401 after the same work (PBKDF2 against the account's hash or a dummy one).",
    "Throttling: failed logins are counted per email and per client address (CF-Connecting-IP). Past 5 failures for an email (20 from an address), each further failure blocks that email (address) for 1 s, 2 s, 4 s … doubling, at most 15 minutes (1 hour for an address). While blocked the answer is 429 `rate_limited` with Retry-After (seconds), without checking the password; refused attempts are not counted, so a block always ends. Counts are forgotten after 24 h without failures; a successful login clears the email's count (not the address's). Known and unknown emails are throttled alike.",
  ].join("\n\n"),
  request: { body: jsonBody(s.LoginBody) },
  responses: { 200: jsonContent(s.SessionSchema, "The user and an access token"), ...errors(401, 429, 500) },
});

export const me = createRoute({
  method: "get",
  path: "/api/auth/me",
  tags,
  security: [...security.bearer],
  middleware: [requireAuth()] as const,
  summary: "The caller and their renter profile",
  responses: { 200: jsonContent(s.MeSchema, "The caller"), ...errors(401) },
});

export const updateClient = createRoute({
  method: "put",
  path: "/api/auth/me/client",
  tags,
  security: [...security.bearer],
  middleware: [requireAuth()] as const,
  summary: "Update the caller's renter profile",
  request: { body: jsonBody(s.ClientUpdateBody) },
  responses: { 200: jsonContent(z.object({ client: s.ClientSchema }), "The updated profile"), ...errors(401) },
});

export const createApiKey = createRoute({
  method: "post",
  path: "/api/auth/api-keys",
  tags,
  security: [...security.bearer],
  middleware: [requireAuth()] as const,
  summary: "Create an API key (shown once)",
  request: { body: { required: false, content: { "application/json": { schema: s.ApiKeyCreateBody } } } },
  responses: { 201: jsonContent(s.ApiKeyCreatedSchema, "The key, shown only here"), ...errors(401) },
});

export const listApiKeys = createRoute({
  method: "get",
  path: "/api/auth/api-keys",
  tags,
  security: [...security.bearer],
  middleware: [requireAuth()] as const,
  summary: "The caller's active API keys",
  responses: { 200: jsonContent(z.object({ api_keys: z.array(s.ApiKeySchema) }), "Active keys (never the key itself)"), ...errors(401) },
});

export const deleteApiKey = createRoute({
  method: "delete",
  path: "/api/auth/api-keys/{id}",
  tags,
  security: [...security.bearer],
  middleware: [requireAuth()] as const,
  summary: "Revoke an API key; it stops working at once",
  request: { params: IdParam },
  responses: { 204: { description: "Revoked" }, ...errors(401, 404) },
});
