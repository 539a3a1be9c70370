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
  request: { body: jsonBody(s.RegisterBody) },
  responses: { 201: jsonContent(s.SessionSchema, "The new user and an access token"), ...errors(409) },
});

export const login = createRoute({
  method: "post",
  path: "/api/auth/login",
  tags,
  summary: "Exchange email and password for an access token",
  request: { body: jsonBody(s.LoginBody) },
  responses: { 200: jsonContent(s.SessionSchema, "The user and an access token"), ...errors(401) },
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
