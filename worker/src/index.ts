import { createApp } from "./app";
import type { Env, SettlementMessage } from "./env";
import { handleSettlementBatch } from "./settlement/consumer";
import { recordDeadLetters } from "./settlement/dead-letters";

export { RegionCluster } from "./region-cluster";

const app = createApp();

export default {
  fetch: app.fetch,
  async queue(batch: MessageBatch<SettlementMessage>, env: Env) {
    // Dead letters are recorded for the region reconciler (and the admin overview), never dropped.
    if (batch.queue.endsWith("-dlq")) return recordDeadLetters(batch, env);
    await handleSettlementBatch(batch, env);
  },
} satisfies ExportedHandler<Env, SettlementMessage>;
