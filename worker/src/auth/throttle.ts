/**
 * Login and registration throttling, kept in D1 (`auth_throttle`, migration 0005): D1 is already
 * on the login path (the user lookup), every worker instance sees the same counters, and each
 * update is one atomic upsert, so no Durable Object round trip is added to every login.
 *
 * Policy (documented on the routes in the OpenAPI document):
 * - Failed logins are counted per email (hashed: the table is no list of addresses) and per client
 *   address (CF-Connecting-IP). Past LOGIN_FREE_FAILURES_PER_EMAIL (5) failures for an email, or
 *   LOGIN_FREE_FAILURES_PER_ADDRESS (20) from an address, each further failure blocks that key for
 *   1 s, 2 s, 4 s … doubling, at most 15 min (email) or 1 h (address). A blocked key answers 429
 *   `rate_limited` with Retry-After, without checking the password, and that refused attempt is
 *   not counted: hammering cannot extend a block, it only ends when the time is up.
 * - Never forever: an email's block is at most 15 minutes after its last counted failure, counts
 *   are forgotten after 24 h without failures, and a successful login clears the email's count.
 *   (It does not clear the address's count: one valid account must not let an address reset its
 *   own budget between guesses at other accounts.)
 * - No timing oracle: known and unknown emails go through the same steps (throttle check, PBKDF2
 *   against the real or a dummy hash, the same failure upsert), so neither the status, the message
 *   nor the work tells whether an account exists.
 * - Registration: at most REGISTRATIONS_PER_ADDRESS_PER_HOUR (10) attempts per address per hour
 *   (attempts, not successes, so a 409 cannot be used to test emails in bulk either).
 * - A request without CF-Connecting-IP, or from a loopback address, has no per-address limit:
 *   Cloudflare always sets the header to the client's public address in production, so only a
 *   local `wrangler dev` or a test harness lacks one. The per-email limit always applies.
 */
import type { Env } from "../env";
import { ApiError } from "../lib/errors";
import { sha256Hex } from "../lib/crypto";

export const LOGIN_FREE_FAILURES_PER_EMAIL = 5;
export const LOGIN_FREE_FAILURES_PER_ADDRESS = 20;
export const LOGIN_MAX_BLOCK_EMAIL_SEC = 15 * 60;
export const LOGIN_MAX_BLOCK_ADDRESS_SEC = 60 * 60;
export const REGISTRATIONS_PER_ADDRESS_PER_HOUR = 10;
const FAILURE_MEMORY_MS = 24 * 3600_000;
const REGISTRATION_WINDOW_MS = 3600_000;

/** The caller's public address, or null where there is none worth limiting (see above). */
export function clientAddress(headers: { header(name: string): string | undefined }): string | null {
  const ip = headers.header("cf-connecting-ip")?.trim();
  if (!ip || ip.length > 64) return null;
  if (/^127\./.test(ip) || ip === "::1" || ip === "localhost") return null;
  return ip.toLowerCase();
}

interface LoginKeys {
  email: string;
  address: string | null;
}

export async function loginKeys(email: string, address: string | null): Promise<LoginKeys> {
  return { email: `login-email:${await sha256Hex(email.trim().toLowerCase())}`, address: address ? `login-ip:${address}` : null };
}

function rateLimited(retryMs: number, what: string): ApiError {
  const retry = Math.max(1, Math.ceil(retryMs / 1000));
  return new ApiError("rate_limited", `too many ${what}; retry in ${retry} s`, undefined, { "Retry-After": String(retry) });
}

/** Throws 429 when the email or the address is blocked now. */
export async function assertLoginAllowed(env: Env, keys: LoginKeys, now: number): Promise<void> {
  const list = [keys.email, ...(keys.address ? [keys.address] : [])];
  const rows = await env.DB.prepare(
    `SELECT key, blocked_until FROM auth_throttle WHERE key IN (${list.map(() => "?").join(",")}) AND blocked_until > ?`,
  )
    .bind(...list, now)
    .all<{ key: string; blocked_until: number }>();
  if (rows.results.length) throw rateLimited(Math.max(...rows.results.map((r) => r.blocked_until)) - now, "failed sign-in attempts");
}

/** The block after the n-th consecutive failure: none within the free allowance, then 1 s doubling to the cap. */
export function blockSeconds(failures: number, free: number, capSec: number): number {
  if (failures <= free) return 0;
  return Math.min(capSec, 2 ** Math.min(failures - free - 1, 30));
}

function failureUpsert(env: Env, key: string, now: number) {
  return env.DB.prepare(
    `INSERT INTO auth_throttle (key, failures, window_start, blocked_until, updated_at) VALUES (?1, 1, ?2, 0, ?2)
     ON CONFLICT (key) DO UPDATE SET
       failures = CASE WHEN updated_at < ?2 - ?3 THEN 1 ELSE failures + 1 END,
       window_start = CASE WHEN updated_at < ?2 - ?3 THEN ?2 ELSE window_start END,
       updated_at = ?2
     RETURNING failures`,
  ).bind(key, now, FAILURE_MEMORY_MS);
}

/** Counts one failed login against the email and the address, and sets their blocks. */
export async function recordLoginFailure(env: Env, keys: LoginKeys, now: number): Promise<void> {
  const targets: [string, number, number][] = [[keys.email, LOGIN_FREE_FAILURES_PER_EMAIL, LOGIN_MAX_BLOCK_EMAIL_SEC]];
  if (keys.address) targets.push([keys.address, LOGIN_FREE_FAILURES_PER_ADDRESS, LOGIN_MAX_BLOCK_ADDRESS_SEC]);
  const counts = await env.DB.batch<{ failures: number }>(targets.map(([key]) => failureUpsert(env, key, now)));
  const blocks = targets
    .map(([key, free, cap], i) => ({ key, sec: blockSeconds(counts[i].results[0]?.failures ?? 1, free, cap) }))
    .filter((b) => b.sec > 0);
  if (blocks.length) {
    await env.DB.batch(
      blocks.map((b) => env.DB.prepare(`UPDATE auth_throttle SET blocked_until = ? WHERE key = ?`).bind(now + b.sec * 1000, b.key)),
    );
  }
}

/** A successful login forgets the email's failures (not the address's). */
export async function recordLoginSuccess(env: Env, keys: LoginKeys): Promise<void> {
  await env.DB.prepare(`DELETE FROM auth_throttle WHERE key = ?`).bind(keys.email).run();
}

/** Counts one registration attempt from the address; throws 429 past the hourly allowance. */
export async function assertRegistrationAllowed(env: Env, address: string | null, now: number): Promise<void> {
  if (!address) return;
  const row = await env.DB.prepare(
    `INSERT INTO auth_throttle (key, failures, window_start, blocked_until, updated_at) VALUES (?1, 1, ?2, 0, ?2)
     ON CONFLICT (key) DO UPDATE SET
       failures = CASE WHEN window_start <= ?2 - ?3 THEN 1 ELSE failures + 1 END,
       window_start = CASE WHEN window_start <= ?2 - ?3 THEN ?2 ELSE window_start END,
       updated_at = ?2
     RETURNING failures, window_start`,
  )
    .bind(`register-ip:${address}`, now, REGISTRATION_WINDOW_MS)
    .first<{ failures: number; window_start: number }>();
  if (row && row.failures > REGISTRATIONS_PER_ADDRESS_PER_HOUR)
    throw rateLimited(row.window_start + REGISTRATION_WINDOW_MS - now, "sign-ups from this address");
}
