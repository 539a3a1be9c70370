/** The signing_keys table: the lease-signing keys (the private half sealed). Imports only db/schema and domain/. */

export interface SigningKeyRow {
  kid: string;
  public_jwk: string;
  private_jwk_sealed: string;
}

/** The oldest key not retired: every isolate picks the same one. */
export async function activeSigningKeyRow(d1: D1Database): Promise<SigningKeyRow | null> {
  return d1
    .prepare(`SELECT kid, public_jwk, private_jwk_sealed FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at, kid LIMIT 1`)
    .first<SigningKeyRow>();
}

export async function insertSigningKey(
  d1: D1Database,
  kid: string,
  publicJwk: string,
  privateJwkSealed: string,
  now: number,
): Promise<void> {
  await d1
    .prepare(`INSERT INTO signing_keys (kid, public_jwk, private_jwk_sealed, created_at) VALUES (?, ?, ?, ?)`)
    .bind(kid, publicJwk, privateJwkSealed, now)
    .run();
}

/** Every public key, retired ones too (a lease signed before a rotation still verifies), oldest first. */
export async function publicSigningKeys(d1: D1Database): Promise<string[]> {
  const rows = await d1.prepare(`SELECT public_jwk FROM signing_keys ORDER BY created_at`).all<{ public_jwk: string }>();
  return rows.results.map((r) => r.public_jwk);
}
