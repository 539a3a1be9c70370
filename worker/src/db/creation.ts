/**
 * The facts a contract creation is decided on, read in one statement. Imports only db/schema and
 * domain/ (lib/ imports db/schema, so nothing here may import lib/ at run time).
 */
import type { ClientRow, NodeRow, OfferRow } from "./schema";

/** What a creation is decided on, as D1 has it now. */
export interface CreationFacts {
  node: Pick<NodeRow, "id" | "providerId" | "region" | "status" | "totalRamGb" | "totalVramGb" | "priceNano"> | null;
  offer: Pick<OfferRow, "minDurationSec" | "maxDurationSec" | "egressPriceMicro"> | null;
  client: Pick<ClientRow, "id" | "balanceMicro" | "heldMicro" | "defaultRegion"> | null;
}

/**
 * The node, its offer and the renter's account: one statement, one row whatever exists (each
 * missing part comes back as NULLs), and only the columns a creation reads. It is on the path of
 * every creation, where a batch of three mapped selects cost measurably more (docs/scale.md).
 */
export async function creationFacts(db: D1Database, nodeId: string, userId: string): Promise<CreationFacts> {
  const r = await db
    .prepare(
      `SELECT n.id AS node_id, n.provider_id, n.region, n.status, n.total_ram_gb, n.total_vram_gb, n.price_nano,
              o.id AS offer_id, o.min_duration_sec, o.max_duration_sec, o.egress_price_micro,
              c.id AS client_id, c.balance_micro, c.held_micro, c.default_region
       FROM (SELECT ?1 AS node_id, ?2 AS user_id) q
       LEFT JOIN nodes n ON n.id = q.node_id
       LEFT JOIN offers o ON o.node_id = q.node_id
       LEFT JOIN clients c ON c.user_id = q.user_id`,
    )
    .bind(nodeId, userId)
    .first<Record<string, unknown>>();
  if (!r) return { node: null, offer: null, client: null };
  return {
    node:
      r.node_id === null
        ? null
        : {
            id: r.node_id as string,
            providerId: r.provider_id as string,
            region: r.region as string,
            status: r.status as NodeRow["status"],
            totalRamGb: r.total_ram_gb as number,
            totalVramGb: r.total_vram_gb as number,
            priceNano: r.price_nano as number,
          },
    offer:
      r.offer_id === null
        ? null
        : {
            minDurationSec: r.min_duration_sec as number,
            maxDurationSec: r.max_duration_sec as number,
            egressPriceMicro: r.egress_price_micro as number,
          },
    client:
      r.client_id === null
        ? null
        : {
            id: r.client_id as string,
            balanceMicro: r.balance_micro as number,
            heldMicro: r.held_micro as number,
            defaultRegion: r.default_region as string | null,
          },
  };
}
