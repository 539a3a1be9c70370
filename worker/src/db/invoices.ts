/** The rows of a renter's invoice: contracts and transactions of one client in a period. Imports only db/schema and domain/. */

export interface InvoiceContractRow {
  id: string;
  node_id: string;
  node_name: string | null;
  region: string;
  ram_gb: number;
  vram_gb: number;
  start_time: number | null;
  end_time: number | null;
  ended_at: number;
  grace_until: number | null;
  min_duration_sec: number;
  price_nano: number;
  egress_price_micro: number;
  actual_egress_gb: number | null;
  total_cost_micro: number;
  charged_micro: number | null;
  status: string;
  settlement_hash: string | null;
}

/** The client's contracts whose billing ended in [from, to) (cancelled ones cost nothing), and the period's payments. */
export async function invoiceRows(d1: D1Database, client: { id: string; user_id: string }, from: number, to: number) {
  const [contractsRes, paymentsRes] = await d1.batch([
    d1
      .prepare(
        `SELECT k.id, k.node_id, n.name AS node_name, k.region, k.ram_gb, k.vram_gb, k.start_time, k.end_time, k.ended_at, k.grace_until, k.min_duration_sec,
              k.price_nano, k.egress_price_micro, k.actual_egress_gb, k.total_cost_micro, k.charged_micro, k.status, k.settlement_hash
       FROM contracts k LEFT JOIN nodes n ON n.id = k.node_id
       WHERE k.client_id = ?1 AND k.ended_at >= ?2 AND k.ended_at < ?3 AND k.status != 'cancelled'
       ORDER BY k.ended_at, k.id`,
      )
      .bind(client.id, from, to),
    d1
      .prepare(
        `SELECT COUNT(*) AS n, COALESCE(SUM(amount_micro), 0) AS micro FROM transactions WHERE user_id = ?1 AND status IN ('completed','refunded') AND settled_at >= ?2 AND settled_at < ?3`,
      )
      .bind(client.user_id, from, to),
  ]);
  return {
    contracts: contractsRes.results as unknown as InvoiceContractRow[],
    payments: paymentsRes.results[0] as { n: number; micro: number },
  };
}
