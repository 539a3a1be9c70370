/**
 * Secrets at rest: PBKDF2-SHA-256 password hashes and SHA-256 API key digests.
 * Cloudflare's production runtime refuses PBKDF2 above 100,000 iterations (local workerd does not),
 * so the constant below is the cap itself; a test pins it.
 */
export const PBKDF2_ITERATIONS = 100_000;
export const PBKDF2_MAX_ITERATIONS_ON_WORKERS = 100_000;
const SALT_BYTES = 16;
const HASH_BYTES = 32;

const enc = new TextEncoder();

export function toBase64Url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64Url(text: string): Uint8Array {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export async function sha256Hex(text: string): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-256", enc.encode(text)));
}

/** Compares equal-length byte strings in constant time; different lengths are simply unequal. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  return crypto.subtle.timingSafeEqual(a, b);
}

async function pbkdf2(password: string, salt: Uint8Array, iterations: number, bytes: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", enc.encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, bytes * 8);
  return new Uint8Array(bits);
}

/** Self-describing format: `pbkdf2-sha256$<iterations>$<salt b64url>$<hash b64url>`. */
export async function hashPassword(password: string, iterations = PBKDF2_ITERATIONS): Promise<string> {
  if (iterations > PBKDF2_MAX_ITERATIONS_ON_WORKERS) throw new RangeError("PBKDF2 iterations above the Workers limit");
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await pbkdf2(password, salt, iterations, HASH_BYTES);
  return `pbkdf2-sha256$${iterations}$${toBase64Url(salt)}$${toBase64Url(hash)}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 4 || parts[0] !== "pbkdf2-sha256") return false;
  const iterations = Number(parts[1]);
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > PBKDF2_MAX_ITERATIONS_ON_WORKERS) return false;
  const salt = fromBase64Url(parts[2]);
  const expected = fromBase64Url(parts[3]);
  const actual = await pbkdf2(password, salt, iterations, expected.byteLength);
  return constantTimeEqual(actual, expected);
}

/** A hash to compare against when the email is unknown, so both failures cost the same time. */
let dummyHash: Promise<string> | undefined;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword("not-a-real-password-" + crypto.randomUUID());
  return dummyHash;
}

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
export const API_KEY_PREFIX = "mnemo_";
const API_KEY_RANDOM_CHARS = 40; // ≈ 238 bits
const API_KEY_DISPLAY_CHARS = 8;

/**
 * A new API key: a readable prefix plus random base62 characters. Only its SHA-256 is stored;
 * `display` (the prefix and the first characters) lets a person recognise it in a list.
 */
export async function generateApiKey(): Promise<{ key: string; hash: string; display: string }> {
  // Rejection sampling keeps every character equally likely.
  let random = "";
  while (random.length < API_KEY_RANDOM_CHARS) {
    for (const b of crypto.getRandomValues(new Uint8Array(64))) {
      if (b < 248 && random.length < API_KEY_RANDOM_CHARS) random += BASE62[b % 62];
    }
  }
  const key = API_KEY_PREFIX + random;
  return { key, hash: await sha256Hex(key), display: key.slice(0, API_KEY_PREFIX.length + API_KEY_DISPLAY_CHARS) };
}

export function looksLikeApiKey(text: string): boolean {
  return (
    text.startsWith(API_KEY_PREFIX) &&
    /^[0-9A-Za-z]+$/.test(text.slice(API_KEY_PREFIX.length)) &&
    text.length === API_KEY_PREFIX.length + API_KEY_RANDOM_CHARS
  );
}
