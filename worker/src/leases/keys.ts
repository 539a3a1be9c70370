/**
 * Lease signatures with jose (its one job: asymmetric keys and key sets). The platform signs each
 * active contract's lease with an ES256 key; nodes verify leases offline against the public key set
 * at /.well-known/jwks.json. The first request that needs a key creates it; the private half is
 * sealed with AES-GCM under a key derived (HKDF) from JWT_SECRET before it is stored in D1.
 */
import { SignJWT, exportJWK, generateKeyPair, importJWK, type JWK } from "jose";
import type { Env } from "../env";
import { ApiError } from "../lib/errors";
import { fromBase64Url, toBase64Url } from "../lib/crypto";
import { activeSigningKeyRow, insertSigningKey, publicSigningKeys } from "../db/signing-keys";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function sealingKey(env: Env): Promise<CryptoKey> {
  if (!env.JWT_SECRET) throw new ApiError("misconfigured", "the server has no JWT_SECRET configured");
  const base = await crypto.subtle.importKey("raw", enc.encode(env.JWT_SECRET), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: enc.encode("mnemo-lease-keys"), info: enc.encode("seal v1") },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

async function seal(env: Env, jwk: JWK): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, await sealingKey(env), enc.encode(JSON.stringify(jwk))));
  return `v1.${toBase64Url(iv)}.${toBase64Url(ct)}`;
}

async function unseal(env: Env, sealed: string): Promise<JWK> {
  const [, iv, ct] = sealed.split(".");
  const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: fromBase64Url(iv) }, await sealingKey(env), fromBase64Url(ct));
  return JSON.parse(dec.decode(plain)) as JWK;
}

/** The current signing key, created on first use. Two isolates racing both insert; one row wins and both use it. */
export async function currentSigningKey(env: Env): Promise<{ kid: string; privateJwk: JWK }> {
  let row = await activeSigningKeyRow(env.DB);
  if (!row) {
    const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
    const kid = crypto.randomUUID();
    const pub = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
    const priv = { ...(await exportJWK(privateKey)), kid, alg: "ES256" };
    await insertSigningKey(env.DB, kid, JSON.stringify(pub), await seal(env, priv), Date.now());
    row = await activeSigningKeyRow(env.DB);
  }
  return { kid: row!.kid, privateJwk: await unseal(env, row!.private_jwk_sealed) };
}

/** Every public key that may have signed a lease still in force (retired keys stay listed). */
export async function publicKeySet(env: Env): Promise<{ keys: JWK[] }> {
  const rows = await publicSigningKeys(env.DB);
  return { keys: rows.map((jwk) => JSON.parse(jwk) as JWK) };
}

export interface LeaseClaims {
  contractId: string;
  nodeId: string;
  clientId: string;
  ramGb: number;
  vramGb: number;
  startMs: number;
  endMs: number;
}

export const LEASE_ISSUER = "mnemo";

export async function signLease(env: Env, lease: LeaseClaims): Promise<{ token: string; kid: string }> {
  const { kid, privateJwk } = await currentSigningKey(env);
  const key = await importJWK(privateJwk, "ES256");
  const token = await new SignJWT({ client_id: lease.clientId, ram_gb: lease.ramGb, vram_gb: lease.vramGb })
    .setProtectedHeader({ alg: "ES256", kid, typ: "mnemo-lease+jwt" })
    .setIssuer(LEASE_ISSUER)
    .setSubject(lease.contractId)
    .setAudience(lease.nodeId)
    .setIssuedAt()
    .setNotBefore(Math.floor(lease.startMs / 1000))
    .setExpirationTime(Math.ceil(lease.endMs / 1000))
    .sign(key);
  return { token, kid };
}
