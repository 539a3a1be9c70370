import { createApp } from "./app";
import type { Env, SettlementMessage } from "./env";
import { handleSettlementBatch } from "./settlement/consumer";

export { RegionCluster } from "./region/region-cluster";

const app = createApp();

export default {
  fetch: app.fetch,
  async queue(batch: MessageBatch<SettlementMessage>, env: Env) {
    if (batch.queue.endsWith("-dlq")) return; // dead letters stay for a person to inspect
    await handleSettlementBatch(batch, env);
  },
} satisfies ExportedHandler<Env, SettlementMessage>;
