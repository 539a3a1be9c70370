import type { NodeLive } from "./capacity";

/** A region's figures at a glance, summed over its nodes that are not offline. */
export interface RegionRollup {
  region: string;
  center: { lat: number; lng: number } | null;
  totalNodes: number;
  composition: { datacenter: number; edge_cluster: number; mist_node: number };
  byStatus: { active: number; maintenance: number; offline: number };
  totalRamGb: number;
  availableRamGb: number;
  totalVramGb: number;
  availableVramGb: number;
  heldRamGb: number;
  heldVramGb: number;
  avgPriceNano: number;
  /** Every counted node's price, ascending. */
  prices: number[];
  lastHeartbeatAt: number | null;
  reservations: number;
}

/**
 * Offline nodes are counted by status only: they hold no capacity a renter could use. Only active
 * nodes offer available memory (a node in maintenance keeps what it holds but takes nothing new);
 * the center is the mean position of the nodes that published one.
 */
export function rollupRegion(region: string, nodes: Iterable<NodeLive>, reservations: number): RegionRollup {
  const composition = { datacenter: 0, edge_cluster: 0, mist_node: 0 };
  let totalRam = 0,
    availRam = 0,
    totalVram = 0,
    availVram = 0,
    heldRam = 0,
    heldVram = 0,
    priceSum = 0,
    latSum = 0,
    lngSum = 0,
    located = 0,
    count = 0;
  const prices: number[] = [];
  const byStatus = { active: 0, maintenance: 0, offline: 0 };
  let lastHeartbeat: number | null = null;
  for (const l of nodes) {
    byStatus[l.status]++;
    if (l.status === "offline") continue;
    count++;
    composition[l.nodeType]++;
    totalRam += l.totalRamGb;
    totalVram += l.totalVramGb;
    heldRam += l.heldRamGb;
    heldVram += l.heldVramGb;
    if (l.status === "active") {
      availRam += l.availableRamGb;
      availVram += l.availableVramGb;
    }
    priceSum += l.priceNano;
    prices.push(l.priceNano);
    if (l.latitude !== null && l.longitude !== null) {
      latSum += l.latitude;
      lngSum += l.longitude;
      located++;
    }
    if (l.lastHeartbeatAt !== null && (lastHeartbeat === null || l.lastHeartbeatAt > lastHeartbeat)) lastHeartbeat = l.lastHeartbeatAt;
  }
  prices.sort((a, b) => a - b);
  return {
    region,
    center: located ? { lat: latSum / located, lng: lngSum / located } : null,
    totalNodes: count,
    composition,
    byStatus,
    totalRamGb: totalRam,
    availableRamGb: availRam,
    totalVramGb: totalVram,
    availableVramGb: availVram,
    heldRamGb: heldRam,
    heldVramGb: heldVram,
    avgPriceNano: count ? Math.round(priceSum / count) : 0,
    prices,
    lastHeartbeatAt: lastHeartbeat,
    reservations,
  };
}

/** Held as a percentage of total, to two decimals; 0 when there is nothing. */
export function utilisationPct(held: number, total: number): number {
  return total ? Math.round((held / total) * 10000) / 100 : 0;
}

/** min, lower median and max of ascending values; null when there are none. */
export function spreadOf(sorted: number[]): { min: number; p50: number; max: number } | null {
  if (!sorted.length) return null;
  return { min: sorted[0], p50: sorted[Math.floor((sorted.length - 1) / 2)], max: sorted[sorted.length - 1] };
}
