/**
 * The push channel to a node's agent: `GET /ws/nodes/{node_id}`, a WebSocket held by the node's
 * region Durable Object (hibernation API, tag `node:<id>`). The agent hears of every change of its
 * contracts at once instead of at its next heartbeat: each message is the full list of pending and
 * active contracts the node must hold (the heartbeat response's `contracts`, which stays the fallback),
 * so a lost or reordered message is repaired by the next one.
 */
import type { Env } from "../env";
import { openContractsOfNode } from "../db/contracts";
import { iso } from "../lib/time";

export interface NodeContract {
  id: string;
  ram_gb: number;
  vram_gb: number;
  end_time: string | null;
  status: "pending" | "active";
}

/** Every pending or active contract the node must hold (`end_time` null while pending). */
export async function nodeContracts(env: Env, nodeId: string): Promise<NodeContract[]> {
  const rows = await openContractsOfNode(env.DB, nodeId);
  return rows.map((r) => ({
    id: r.id,
    ram_gb: r.ram_gb,
    vram_gb: r.vram_gb,
    end_time: r.status === "active" ? iso(r.end_time) : null,
    status: r.status,
  }));
}
