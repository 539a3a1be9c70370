import type { Env, SettlementMessage } from "../env";
import { settleContractMoney } from "./settle";

/**
 * The settlement queue's consumer: thin on purpose. Each message names a contract; settling is
 * idempotent, so a redelivered message is acknowledged without moving money again. A message
 * that keeps failing is retried with backoff and then lands in the dead-letter queue.
 */
export async function handleSettlementBatch(batch: MessageBatch<SettlementMessage>, env: Env): Promise<void> {
  for (const msg of batch.messages) {
    const id = msg.body?.contract_id;
    if (typeof id !== "string" || !/^[0-9a-f-]{36}$/i.test(id)) {
      console.error(JSON.stringify({ level: "error", queue: "settlement", message_id: msg.id, error: "malformed message", body: msg.body }));
      msg.ack(); // retrying cannot fix it
      continue;
    }
    try {
      const outcome = await settleContractMoney(env, id);
      console.log(JSON.stringify({ level: "info", queue: "settlement", message_id: msg.id, contract_id: id, attempt: msg.attempts, outcome }));
      msg.ack();
    } catch (e) {
      console.error(JSON.stringify({ level: "error", queue: "settlement", message_id: msg.id, contract_id: id, attempt: msg.attempts, error: String((e as Error)?.message ?? e) }));
      msg.retry({ delaySeconds: Math.min(60, 2 ** msg.attempts) });
    }
  }
}
