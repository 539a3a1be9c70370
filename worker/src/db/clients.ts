/**
 * The clients table (a user's money account): the reads the use cases need. Imports only db/schema
 * and domain/ (lib/ imports db/schema, so nothing here may import lib/ at run time).
 */

/** The region a client's sockets live on by default; null when unset or no such client. */
export async function clientHomeRegion(d1: D1Database, clientId: string): Promise<string | null> {
  const r = await d1.prepare(`SELECT default_region FROM clients WHERE id = ?`).bind(clientId).first<{ default_region: string | null }>();
  return r?.default_region ?? null;
}

/** A client's balance and what of it is held. */
export async function clientBalance(
  d1: D1Database,
  clientId: string,
): Promise<{ id: string; balanceMicro: number; heldMicro: number } | null> {
  const r = await d1
    .prepare(`SELECT id, balance_micro, held_micro FROM clients WHERE id = ?`)
    .bind(clientId)
    .first<{ id: string; balance_micro: number; held_micro: number }>();
  return r ? { id: r.id, balanceMicro: r.balance_micro, heldMicro: r.held_micro } : null;
}

/** The client profile of a user; null when they have none. */
export async function clientIdOfUser(d1: D1Database, userId: string): Promise<string | null> {
  const c = await d1.prepare(`SELECT id FROM clients WHERE user_id = ?`).bind(userId).first<{ id: string }>();
  return c?.id ?? null;
}

export async function findClient(d1: D1Database, id: string): Promise<{ id: string; user_id: string } | null> {
  return d1.prepare(`SELECT id, user_id FROM clients WHERE id = ?`).bind(id).first<{ id: string; user_id: string }>();
}

/** A client with the name and email of its user (an invoice's addressee). */
export async function clientWithUser(d1: D1Database, id: string) {
  return d1
    .prepare(`SELECT c.id, c.user_id, c.org_name, u.email, u.full_name FROM clients c JOIN users u ON u.id = c.user_id WHERE c.id = ?`)
    .bind(id)
    .first<{ id: string; user_id: string; org_name: string | null; email: string; full_name: string | null }>();
}

/** A client's owner and home region (who may open its sockets, and where). */
export async function clientOwnerAndRegion(d1: D1Database, id: string) {
  return d1
    .prepare(`SELECT id, user_id, default_region FROM clients WHERE id = ?`)
    .bind(id)
    .first<{ id: string; user_id: string; default_region: string | null }>();
}

/** A user's client balance and what of it is held; null when they have no client profile. */
export async function clientBalanceOfUser(
  d1: D1Database,
  userId: string,
): Promise<{ id: string; balanceMicro: number; heldMicro: number } | null> {
  const r = await d1
    .prepare(`SELECT id, balance_micro, held_micro FROM clients WHERE user_id = ?`)
    .bind(userId)
    .first<{ id: string; balance_micro: number; held_micro: number }>();
  return r ? { id: r.id, balanceMicro: r.balance_micro, heldMicro: r.held_micro } : null;
}

/** The position stored on a user's client profile; null when they have no client profile. */
export async function clientPositionOfUser(d1: D1Database, userId: string) {
  return d1
    .prepare(`SELECT latitude, longitude FROM clients WHERE user_id = ?`)
    .bind(userId)
    .first<{ latitude: number | null; longitude: number | null }>();
}
