/**
 * The dashboards' aggregate queries over ledger_entries, contracts and nodes. Buckets are
 * `(created_at / size) * size` on integer epoch milliseconds; D1 binds every JS number as REAL, so a
 * bound bucket size is CAST to INTEGER to keep the division an integer division. Sums are integer
 * micro-USD, prices integer nano-USD. Imports only db/schema and domain/.
 */

/** A node's provider earnings per bucket in [from, to). */
export async function earningsSeriesOfNode(d1: D1Database, nodeId: string, from: number, to: number, sizeMs: number) {
  const res = await d1
    .prepare(
      `SELECT (l.created_at / CAST(?1 AS INTEGER)) * CAST(?1 AS INTEGER) AS t, SUM(l.amount_micro) AS micro
     FROM ledger_entries l JOIN contracts k ON k.id = l.contract_id
     WHERE l.kind = 'provider_earning' AND k.node_id = ?2 AND l.created_at >= ?3 AND l.created_at < ?4
     GROUP BY t ORDER BY t`,
    )
    .bind(sizeMs, nodeId, from, to)
    .all<{ t: number; micro: number }>();
  return res.results;
}

/** A user's charges per bucket and per node in [from, to) (holds are not spend until charged). */
export async function spendingOfUser(d1: D1Database, userId: string, from: number, to: number, sizeMs: number) {
  const [series, byNode] = await d1.batch([
    d1
      .prepare(
        `SELECT (created_at / CAST(?1 AS INTEGER)) * CAST(?1 AS INTEGER) AS t, -SUM(amount_micro) AS micro FROM ledger_entries
       WHERE kind = 'charge' AND user_id = ?2 AND created_at >= ?3 AND created_at < ?4 GROUP BY t ORDER BY t`,
      )
      .bind(sizeMs, userId, from, to),
    d1
      .prepare(
        `SELECT k.node_id, n.name AS node_name, n.region, -SUM(l.amount_micro) AS micro, COUNT(DISTINCT k.id) AS contracts
       FROM ledger_entries l JOIN contracts k ON k.id = l.contract_id LEFT JOIN nodes n ON n.id = k.node_id
       WHERE l.kind = 'charge' AND l.user_id = ?1 AND l.created_at >= ?2 AND l.created_at < ?3
       GROUP BY k.node_id ORDER BY micro DESC, k.node_id`,
      )
      .bind(userId, from, to),
  ]);
  return {
    series: series.results as { t: number; micro: number }[],
    byNode: byNode.results as { node_id: string; node_name: string | null; region: string | null; micro: number; contracts: number }[],
  };
}

export type RegionAggregate = {
  region: string;
  nodes?: number;
  contracts?: number;
  ram: number;
  vram: number;
  free_ram?: number;
  free_vram?: number;
};

/** Per region: what nodes offer, what open contracts hold, and what was requested in [from, to). */
export async function supplyByRegion(d1: D1Database, from: number, to: number) {
  const [offered, reserved, requested] = await d1.batch([
    d1.prepare(
      `SELECT region, COUNT(*) AS nodes, SUM(total_ram_gb) AS ram, SUM(total_vram_gb) AS vram,
              SUM(CASE WHEN status = 'active' THEN MIN(reported_ram_gb, total_ram_gb) ELSE 0 END) AS free_ram,
              SUM(CASE WHEN status = 'active' THEN MIN(reported_vram_gb, total_vram_gb) ELSE 0 END) AS free_vram
       FROM nodes WHERE status != 'offline' GROUP BY region`,
    ),
    d1.prepare(
      `SELECT region, COUNT(*) AS contracts, SUM(ram_gb) AS ram, SUM(vram_gb) AS vram FROM contracts WHERE status IN ('pending','active') GROUP BY region`,
    ),
    d1
      .prepare(
        `SELECT region, COUNT(*) AS contracts, SUM(ram_gb) AS ram, SUM(vram_gb) AS vram FROM contracts WHERE created_at >= ?1 AND created_at < ?2 GROUP BY region`,
      )
      .bind(from, to),
  ]);
  return {
    offered: offered.results as RegionAggregate[],
    reserved: reserved.results as RegionAggregate[],
    requested: requested.results as RegionAggregate[],
  };
}

/**
 * Contracted prices per bucket in [from, to) (GB-weighted average, rounded half-up to the nano-USD,
 * all in integers) and the active nodes' current prices, in one region or all.
 */
export async function pricing(d1: D1Database, region: string | undefined, from: number, to: number, sizeMs: number) {
  const regionCond = region ? "AND region = ?4" : "";
  const nodeRegionCond = region ? "AND region = ?1" : "";
  const [series, current] = await d1.batch([
    d1
      .prepare(
        `SELECT (created_at / CAST(?1 AS INTEGER)) * CAST(?1 AS INTEGER) AS t, COUNT(*) AS contracts, SUM(ram_gb + vram_gb) AS gb,
              (2 * SUM(price_nano * (ram_gb + vram_gb)) + SUM(ram_gb + vram_gb)) / (2 * SUM(ram_gb + vram_gb)) AS avg_nano,
              MIN(price_nano) AS min_nano, MAX(price_nano) AS max_nano
       FROM contracts WHERE created_at >= ?2 AND created_at < ?3 ${regionCond} AND ram_gb + vram_gb > 0 GROUP BY t ORDER BY t`,
      )
      .bind(...(region ? [sizeMs, from, to, region] : [sizeMs, from, to])),
    d1
      .prepare(
        `SELECT COUNT(*) AS nodes, CASE WHEN COUNT(*) > 0 THEN (2 * SUM(price_nano) + COUNT(*)) / (2 * COUNT(*)) END AS avg_nano, MIN(price_nano) AS min_nano, MAX(price_nano) AS max_nano
       FROM nodes WHERE status = 'active' ${nodeRegionCond}`,
      )
      .bind(...(region ? [region] : [])),
  ]);
  return {
    series: series.results as { t: number; contracts: number; gb: number; avg_nano: number; min_nano: number; max_nano: number }[],
    current: current.results[0] as { nodes: number; avg_nano: number | null; min_nano: number | null; max_nano: number | null },
  };
}

type Group = { k: string; n: number };

/** The admin overview's counts and sums: users by role, nodes and contracts by status, ledger sums by kind, and what is owed. */
export async function platformOverview(d1: D1Database) {
  const [users, nodes, contracts, money, outstanding] = await d1.batch([
    d1.prepare(`SELECT role AS k, COUNT(*) AS n FROM users GROUP BY role`),
    d1.prepare(`SELECT status AS k, COUNT(*) AS n FROM nodes GROUP BY status`),
    d1.prepare(`SELECT status AS k, COUNT(*) AS n FROM contracts GROUP BY status`),
    d1.prepare(`SELECT kind AS k, COALESCE(SUM(amount_micro), 0) AS n FROM ledger_entries GROUP BY kind`),
    d1.prepare(
      `SELECT COALESCE(SUM(total_cost_micro - charged_micro), 0) AS n FROM contracts WHERE charged_micro IS NOT NULL AND total_cost_micro > charged_micro`,
    ),
  ]);
  return {
    usersByRole: users.results as Group[],
    nodesByStatus: nodes.results as Group[],
    contractsByStatus: contracts.results as Group[],
    ledgerSumsByKind: money.results as Group[],
    outstandingMicro: (outstanding.results[0] as { n: number }).n,
  };
}
