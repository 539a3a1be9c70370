import type { Env, SettlementMessage } from "../env";
import { settleContractMoney } from "./settle";
import { applyMeasuredEgress, receiptWaitSec } from "./egress";

/**
 * Waiting for a lease receipt spends a delivery of the message. Beyond this many attempts the
 * consumer re-sends a fresh delayed message instead, so waiting can never use up `max_retries`
 * (wrangler.toml: 5) and push a healthy contract into the dead-letter queue.
 */
const WAIT_BY_RETRY_MAX_ATTEMPTS = 2;
/** Cloudflare Queues delay a message by at most 12 hours; a longer wait takes several hops. */
const MAX_QUEUE_DELAY_SEC = 43_200;

/**
 * The settlement queue's consumer: thin on purpose. Each message names a contract; settling is
 * idempotent, so a redelivered message is acknowledged without moving money again. A message
 * that keeps failing is retried with backoff and then lands in the dead-letter queue.
 */
export async function handleSettlementBatch(batch: MessageBatch<SettlementMessage>, env: Env): Promise<void> {
  for (const msg of batch.messages) {
    const id = msg.body?.contract_id;
    if (typeof id !== "string" || !/^[0-9a-f-]{36}$/i.test(id)) {
      console.error(
        JSON.stringify({ level: "error", queue: "settlement", message_id: msg.id, error: "malformed message", body: msg.body }),
      );
      msg.ack(); // retrying cannot fix it
      continue;
    }
    try {
      const now = Date.now();
      const wait = Math.min(await receiptWaitSec(env, id, now), MAX_QUEUE_DELAY_SEC);
      if (wait > 0) {
        // The node's end-of-lease receipt is not in yet: come back when the wait is over (a receipt
        // that lands earlier sends a fresh message, so this delay is only the fallback).
        if (msg.attempts <= WAIT_BY_RETRY_MAX_ATTEMPTS) msg.retry({ delaySeconds: wait });
        else {
          await env.SETTLEMENT_QUEUE.send({ contract_id: id }, { delaySeconds: wait });
          msg.ack();
        }
        console.log(
          JSON.stringify({
            level: "info",
            queue: "settlement",
            message_id: msg.id,
            contract_id: id,
            attempt: msg.attempts,
            outcome: "waiting_for_lease_receipt",
            wait_sec: wait,
          }),
        );
        continue;
      }
      await applyMeasuredEgress(env, id, now);
      const outcome = await settleContractMoney(env, id);
      console.log(
        JSON.stringify({ level: "info", queue: "settlement", message_id: msg.id, contract_id: id, attempt: msg.attempts, outcome }),
      );
      msg.ack();
    } catch (e) {
      console.error(
        JSON.stringify({
          level: "error",
          queue: "settlement",
          message_id: msg.id,
          contract_id: id,
          attempt: msg.attempts,
          error: String((e as Error)?.message ?? e),
        }),
      );
      msg.retry({ delaySeconds: Math.min(60, 2 ** msg.attempts) });
    }
  }
}
