/** The webhook_events table: Stripe events already handled, so a replay is recognised. */

export async function webhookSeen(d1: D1Database, eventId: string): Promise<boolean> {
  return (await d1.prepare(`SELECT id FROM webhook_events WHERE id = ?`).bind(eventId).first()) !== null;
}

/** Recorded once (a replayed event changes nothing). */
export async function recordWebhook(d1: D1Database, eventId: string, type: string, now: number): Promise<void> {
  await d1
    .prepare(`INSERT INTO webhook_events (id, type, received_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`)
    .bind(eventId, type, now)
    .run();
}
