import type { NodeType } from "./matching";

/** What the region Durable Object knows of a node (a copy of D1's row plus its offer terms). */
export interface NodeSnapshot {
  id: string;
  providerId: string;
  name: string;
  nodeType: NodeType;
  region: string;
  latitude: number | null;
  longitude: number | null;
  totalRamGb: number;
  totalVramGb: number;
  reportedRamGb: number;
  reportedVramGb: number;
  priceNano: number;
  uptimeScore: number;
  baseLatencyMs: number;
  bandwidthMbps: number;
  status: "active" | "maintenance" | "offline";
  lastHeartbeatAt: number | null;
  createdAt: number;
}

export interface NodeLive extends NodeSnapshot {
  heldRamGb: number;
  heldVramGb: number;
  availableRamGb: number;
  availableVramGb: number;
}

export interface Reservation {
  contractId: string;
  nodeId: string;
  ramGb: number;
  vramGb: number;
  clientUserId: string;
  /** provisional: reserved, contract row not yet confirmed in D1; held: a pending/active contract. */
  state: "provisional" | "held";
  /** End of the paid term once active (epoch ms), for the expiry alarm. */
  endTime: number | null;
  createdAt: number;
}

export type ReserveResult =
  | { ok: true; availableRamGb: number; availableVramGb: number }
  | { ok: false; reason: "insufficient_capacity" | "node_unavailable" | "unknown_node"; availableRamGb: number; availableVramGb: number };

/** Available = min(reported free, total) − held; a heartbeat can never free what contracts hold. */
export function availableOf(
  n: { totalRamGb: number; totalVramGb: number; reportedRamGb: number; reportedVramGb: number },
  heldRam: number,
  heldVram: number,
) {
  return {
    availableRamGb: Math.max(0, Math.min(n.reportedRamGb, n.totalRamGb) - heldRam),
    availableVramGb: Math.max(0, Math.min(n.reportedVramGb, n.totalVramGb) - heldVram),
  };
}
