import { OpenAPIHono, z, type RouteConfig, type RouteHandler } from "@hono/zod-openapi";
import type { Env } from "../env";
import type { AuthUser } from "./auth";
import { ApiError, ERROR_STATUS, type ErrorCode, type ErrorDetail } from "./errors";
import type { Db } from "../db/client";

export type AppBindings = {
  Bindings: Env;
  Variables: {
    db: Db;
    user?: AuthUser;
    requestId: string;
  };
};

/** A handler typed by its route: request parts validated by the route, responses checked against it. */
export type AppRouteHandler<R extends RouteConfig> = RouteHandler<R, AppBindings>;

/**
 * Whether the request carried a value at `path`. Zod 4 issues do not carry the input, so without
 * the request's own data a present-but-wrong value (0.8 where an integer is wanted) would read as
 * missing; "is required" is only said of a field that is really absent.
 */
function presentAt(input: unknown, path: PropertyKey[]): boolean {
  let cur: unknown = input;
  for (const key of path) {
    if (cur === null || typeof cur !== "object" || !Object.prototype.hasOwnProperty.call(cur, key)) return false;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur !== undefined;
}

/** Turns one zod issue into a sentence a person can act on, e.g. "ram_gb must be >= 0". */
function describeIssue(issue: z.core.$ZodIssue, input?: unknown): ErrorDetail {
  const field = issue.path.length ? issue.path.map(String).join(".") : "body";
  let message: string;
  switch (issue.code) {
    case "too_small":
      message =
        issue.origin === "string"
          ? `must be at least ${issue.minimum} characters`
          : issue.origin === "array"
            ? `must have at least ${issue.minimum} items`
            : `must be ${issue.inclusive === false ? ">" : ">="} ${issue.minimum}`;
      break;
    case "too_big":
      message =
        issue.origin === "string"
          ? `must be at most ${issue.maximum} characters`
          : issue.origin === "array"
            ? `must have at most ${issue.maximum} items`
            : `must be ${issue.inclusive === false ? "<" : "<="} ${issue.maximum}`;
      break;
    case "invalid_type":
      message = issue.input !== undefined || presentAt(input, issue.path) ? `must be ${article(issue.expected)}` : "is required";
      break;
    case "invalid_value":
      message = `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
      break;
    case "unrecognized_keys":
      message = `unknown field${issue.keys.length > 1 ? "s" : ""}: ${issue.keys.join(", ")}`;
      break;
    case "invalid_format":
      message = `must be a valid ${issue.format}`;
      break;
    default:
      message = issue.message;
  }
  return { field, message };
}

function article(expected: string): string {
  if (expected === "int") return "an integer";
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

export function validationError(error: z.ZodError, input?: unknown): ApiError {
  const details = error.issues.map((i) => describeIssue(i, input));
  const first = details[0];
  const message = first ? `${first.field} ${first.message}` : "invalid request";
  return new ApiError("validation_failed", message, details);
}

/** Every router shares one validation hook, so zod failures take the one error path. */
export function createRouter() {
  return new OpenAPIHono<AppBindings>({
    strict: false,
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error as z.ZodError, (result as { data?: unknown }).data);
    },
  });
}

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "validation_failed" }),
      message: z.string().openapi({ example: "ram_gb must be >= 0" }),
      details: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
    }),
  })
  .openapi("Error");

const DESCRIPTIONS: Partial<Record<number, string>> = {
  400: "Invalid request (validation_failed, with one detail per field)",
  401: "Missing, expired or invalid token or API key (unauthenticated)",
  402: "Payment required (insufficient_funds or budget_exceeded)",
  403: "Authenticated but not allowed (forbidden)",
  404: "No such resource, or one the caller may not see (not_found)",
  409: "Conflict (conflict, insufficient_capacity)",
  410: "The resource was retired (gone)",
  413: "Request body over 1 MiB (payload_too_large)",
  429: "Too many requests (rate_limited); see Retry-After",
  500: "The server is misconfigured (misconfigured), e.g. no JWT_SECRET",
  503: "A dependency is not configured or not answering",
};

/** The error responses a route can produce, spread into its `responses` so the document shows them. */
export function errors(...statuses: number[]): RouteConfig["responses"] {
  const out: RouteConfig["responses"] = {};
  for (const s of [400, ...statuses]) {
    out[s] = {
      description: DESCRIPTIONS[s] ?? "Error",
      content: { "application/json": { schema: ErrorSchema } },
    };
  }
  return out;
}

/** A required JSON request body: a missing or non-JSON body is a validation error, not skipped. */
export function jsonBody<T extends z.ZodType>(schema: T, description?: string) {
  return {
    required: true,
    description,
    content: { "application/json": { schema } },
  } as const;
}

export function jsonContent<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } } as const;
}

export const security: { bearer: { [scheme: string]: string[] }[] } = {
  bearer: [{ bearerAuth: [] }, { apiKey: [] }],
};

/** Paging parameters shared by every list endpoint. */
export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50).openapi({ example: 50 }),
  offset: z.coerce.number().int().min(0).default(0).openapi({ example: 0 }),
});

export const IdParam = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, example: "0b6f3f1e-6c1a-4b7e-9d8a-2f4b5c6d7e8f" }),
});

export { ERROR_STATUS, type ErrorCode };
