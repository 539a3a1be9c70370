/**
 * The clients table (a user's money account): the reads the use cases need. Imports only db/schema
 * and domain/ (lib/ imports db/schema, so nothing here may import lib/ at run time).
 */

/** The region a client's sockets live on by default; null when unset or no such client. */
export async function clientHomeRegion(d1: D1Database, clientId: string): Promise<string | null> {
  const r = await d1.prepare(`SELECT default_region FROM clients WHERE id = ?`).bind(clientId).first<{ default_region: string | null }>();
  return r?.default_region ?? null;
}
