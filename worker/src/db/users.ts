/** The users table: the reads and writes the use cases need. Imports only db/schema and domain/. */

/** The user's Stripe connected account for payouts; null when there is no such user. */
export async function payoutAccountRow(d1: D1Database, userId: string): Promise<{ stripeAccountId: string | null } | null> {
  const u = await d1.prepare(`SELECT stripe_account_id FROM users WHERE id = ?`).bind(userId).first<{ stripe_account_id: string | null }>();
  return u ? { stripeAccountId: u.stripe_account_id } : null;
}

export async function savePayoutAccount(d1: D1Database, userId: string, accountId: string): Promise<void> {
  await d1.prepare(`UPDATE users SET stripe_account_id = ? WHERE id = ?`).bind(accountId, userId).run();
}
