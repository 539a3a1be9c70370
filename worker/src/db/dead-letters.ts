/**
 * The settlement_dead_letters table: settlement messages that exhausted their queue retries, kept
 * until the region reconciler settles them. Imports only db/schema and domain/.
 */

/** Unresolved dead letters of the region's contracts, oldest first. */
export async function unresolvedDeadLettersInRegion(
  d1: D1Database,
  region: string,
): Promise<{ message_id: string; contract_id: string }[]> {
  const dead = await d1
    .prepare(
      `SELECT d.message_id, d.contract_id FROM settlement_dead_letters d JOIN contracts k ON k.id = d.contract_id
     WHERE d.resolved_at IS NULL AND k.region = ? ORDER BY d.received_at LIMIT 20`,
    )
    .bind(region)
    .all<{ message_id: string; contract_id: string }>();
  return dead.results;
}

export async function resolveDeadLetter(d1: D1Database, messageId: string, now: number): Promise<void> {
  await d1
    .prepare(`UPDATE settlement_dead_letters SET resolved_at = ?1, retries = retries + 1, last_error = NULL WHERE message_id = ?2`)
    .bind(now, messageId)
    .run();
}

export async function retryDeadLetterLater(d1: D1Database, messageId: string, error: string): Promise<void> {
  await d1
    .prepare(`UPDATE settlement_dead_letters SET retries = retries + 1, last_error = ?1 WHERE message_id = ?2`)
    .bind(error, messageId)
    .run();
}

/** Records a dead letter once per message (a redelivered one only raises its attempt count). */
export async function recordDeadLetter(
  d1: D1Database,
  messageId: string,
  contractId: string | null,
  body: string,
  attempts: number,
  now: number,
): Promise<void> {
  await d1
    .prepare(
      `INSERT INTO settlement_dead_letters (message_id, contract_id, body, attempts, received_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (message_id) DO UPDATE SET attempts = MAX(attempts, excluded.attempts)`,
    )
    .bind(messageId, contractId, body, attempts, now)
    .run();
}

/** The counts behind the admin overview's reconciliation figures, in one batch. */
export async function reconciliationCounts(d1: D1Database) {
  const [unsettled, held, open, dead] = await d1.batch([
    d1.prepare(`SELECT COUNT(*) AS n FROM contracts WHERE ended_at IS NOT NULL AND charged_micro IS NULL`),
    d1.prepare(`SELECT COALESCE(SUM(held_micro), 0) AS n FROM clients`),
    d1.prepare(`SELECT COALESCE(SUM(held_micro), 0) AS n FROM contracts WHERE ended_at IS NULL`),
    d1.prepare(`SELECT COUNT(*) AS n FROM settlement_dead_letters WHERE resolved_at IS NULL`),
  ]);
  const n = (r: D1Result) => (r.results[0] as { n: number }).n;
  return {
    unsettledContracts: n(unsettled),
    heldOnBalancesMicro: n(held),
    heldByOpenContractsMicro: n(open),
    unresolvedDeadLetters: n(dead),
  };
}
