/**
 * The dead-letter consumer: a settlement message that exhausted its retries is recorded (never
 * dropped), so the region reconciler can settle it again and the admin overview can count it.
 */
import type { Env } from "../env";
import { reconciliationCounts, recordDeadLetter } from "../db/dead-letters";

export async function recordDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const now = Date.now();
  for (const msg of batch.messages) {
    const body = msg.body as { contract_id?: unknown } | null;
    const contractId = typeof body?.contract_id === "string" && /^[0-9a-f-]{36}$/i.test(body.contract_id) ? body.contract_id : null;
    try {
      await recordDeadLetter(env.DB, msg.id, contractId, JSON.stringify(msg.body ?? null).slice(0, 4000), msg.attempts, now);
      console.error(
        JSON.stringify({ level: "error", queue: "settlement-dlq", message_id: msg.id, contract_id: contractId, attempts: msg.attempts }),
      );
      msg.ack();
    } catch (e) {
      // D1 unreachable: keep the letter on the queue rather than lose it.
      console.error(
        JSON.stringify({ level: "error", queue: "settlement-dlq", message_id: msg.id, error: String((e as Error)?.message ?? e) }),
      );
      msg.retry();
    }
  }
}

/** The reconciliation figures of the admin overview. */
export async function reconciliationFigures(env: Env) {
  const f = await reconciliationCounts(env.DB);
  return {
    unsettled_contracts: f.unsettledContracts,
    // Money held from balances that no running contract carries: ended contracts not yet settled,
    // or a hold without its contract. Zero in a healthy platform between settlements.
    stuck_holds_usd: Math.max(0, f.heldOnBalancesMicro - f.heldByOpenContractsMicro) / 1e6,
    dead_letters: f.unresolvedDeadLetters,
  };
}
