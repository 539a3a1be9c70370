import { z } from "@hono/zod-openapi";
import { RegionName } from "../nodes/schemas";

export const UserSchema = z
  .object({
    id: z.uuid(),
    email: z.email(),
    role: z.enum(["user", "provider", "admin"]),
    full_name: z.string().nullable(),
    organization: z.string().nullable(),
    created_at: z.string().openapi({ format: "date-time" }),
  })
  .openapi("User");

export const ClientSchema = z
  .object({
    id: z.uuid(),
    org_name: z.string().nullable(),
    default_region: z.string().nullable(),
    latitude: z.number().nullable(),
    longitude: z.number().nullable(),
    budget_monthly_usd: z.number().nullable().openapi({ description: "Hard monthly cap on holds and charges (USD); null for none." }),
    current_spend_usd: z.number().openapi({ description: "This calendar month's charges plus open holds (USD)." }),
    prefer_local: z.boolean(),
    max_latency_ms: z.number().int().nullable(),
    min_reliability: z.number().nullable(),
  })
  .openapi("Client");

export const RegisterBody = z
  .object({
    email: z.email().max(254),
    password: z.string().min(8).max(256),
    role: z.enum(["user", "provider"]).default("user").openapi({ description: "`admin` cannot be chosen; admins come from ADMIN_EMAILS." }),
    full_name: z.string().trim().min(1).max(200).optional(),
    organization: z.string().trim().min(1).max(200).optional(),
  })
  .openapi("RegisterRequest");

export const LoginBody = z.object({ email: z.string().min(1).max(254), password: z.string().min(1).max(256) }).openapi("LoginRequest");

export const SessionSchema = z
  .object({
    user: UserSchema,
    access_token: z.string(),
    token_type: z.literal("bearer"),
    expires_in: z.number().int().openapi({ example: 86400 }),
  })
  .openapi("Session");

export const MeSchema = z.object({ user: UserSchema, client: ClientSchema }).openapi("Me");

const lat = z.number().min(-90).max(90);
const lng = z.number().min(-180).max(180);
export const ClientUpdateBody = z
  .strictObject({
    org_name: z.string().trim().max(200).nullable().optional(),
    default_region: RegionName.nullable()
      .optional()
      .openapi({ description: "A region that exists (GET /api/clusters lists them); null for none" }),
    latitude: lat.nullable().optional(),
    longitude: lng.nullable().optional(),
    budget_monthly_usd: z.number().min(0).max(1e9).nullable().optional(),
    prefer_local: z.boolean().optional(),
    max_latency_ms: z.number().int().min(0).max(60_000).nullable().optional(),
    min_reliability: z.number().min(0).max(100).nullable().optional(),
  })
  .openapi("ClientUpdate");

export const ApiKeyCreateBody = z.object({ name: z.string().trim().min(1).max(100).optional() }).openapi("ApiKeyCreate");
export const ApiKeyCreatedSchema = z
  .object({
    id: z.uuid(),
    api_key: z.string().openapi({ description: "The key itself. Shown only in this response; store it now." }),
    prefix: z.string(),
    name: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi("ApiKeyCreated");
export const ApiKeySchema = z
  .object({ id: z.uuid(), name: z.string().nullable(), prefix: z.string(), created_at: z.string(), last_used_at: z.string().nullable() })
  .openapi("ApiKey");
