import type { ContentfulStatusCode } from "hono/utils/http-status";

/** The error codes of API.md, each with its one HTTP status. */
export const ERROR_STATUS = {
  validation_failed: 400,
  unsupported_blockchain: 400,
  below_minimum_payout: 400,
  unauthenticated: 401,
  insufficient_funds: 402,
  budget_exceeded: 402,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  insufficient_capacity: 409,
  gone: 410,
  payload_too_large: 413,
  rate_limited: 429,
  internal_error: 500,
  misconfigured: 500,
  payments_unavailable: 503,
  payment_failed: 402,
  service_unavailable: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorDetail {
  field: string;
  message: string;
}

/**
 * The one error type of the API. Anything thrown that is not an ApiError becomes a 500
 * `internal_error` with a generic message: no stack trace or internal text ever reaches a client.
 */
export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = "ApiError";
    this.status = ERROR_STATUS[code];
  }
}

export function errorBody(code: ErrorCode, message: string, details?: ErrorDetail[]) {
  return { error: { code, message, ...(details && details.length ? { details } : {}) } };
}

export const notFound = (what: string) => new ApiError("not_found", `${what} not found`);
export const forbidden = (message = "you are not allowed to do this") => new ApiError("forbidden", message);
export const conflict = (message: string) => new ApiError("conflict", message);
export const invalid = (field: string, message: string) => new ApiError("validation_failed", `${field} ${message}`, [{ field, message }]);
