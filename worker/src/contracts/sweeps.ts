/**
 * The region's clock, run from its Durable Object's alarm (so it also runs under `wrangler dev`):
 * silent nodes go offline and their contracts fail over; terms end, renew or enter their grace
 * period; running contracts are metered; half-made reservations are reconciled with D1.
 */
import { config, type Env } from "../env";
import { activeInRegion, contractStatus, openInRegion, strandedInRegion, unplacedFailovers, meterRunning } from "../db/contracts";
import { expireIfDue, failOver, loadContract, placeRemainder } from "./lifecycle";
import { reconcileRegion } from "../settlement/reconcile";
import { portsFor, type ClusterPort, type Ports } from "../region/client";
import { sweepReadyTimeouts } from "./activation";
import { markSilentOffline, nodesInRegion, snapshotOf } from "../db/nodes";
import type { NodeSnapshot, Reservation } from "../domain/capacity";

export async function loadRegionFromD1(env: Env, region: string): Promise<{ nodes: NodeSnapshot[]; reservations: Reservation[] }> {
  const nodeRows = await nodesInRegion(env.DB, region);
  const open = await openInRegion(env.DB, region);
  return {
    nodes: nodeRows.map(snapshotOf),
    reservations: open.map((k) => ({
      contractId: k.id,
      nodeId: k.nodeId,
      ramGb: k.ramGb,
      vramGb: k.vramGb,
      clientUserId: k.clientUserId,
      state: "held" as const,
      endTime: k.status === "active" ? k.endTime : null,
      createdAt: k.createdAt,
    })),
  };
}

/** How long a failover's second half (placing the rest of the term) may still be running in its request. */
export const FAILOVER_RETRY_AFTER_MS = 60_000;

/** One step of the sweep for one item; a failure is logged and retried on the next tick, never fatal to the rest. */
async function step(what: string, id: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    console.error(JSON.stringify({ level: "error", sweep: what, id, error: String((e as Error)?.message ?? e) }));
  }
}

export async function runRegionSweeps(
  env: Env,
  region: string,
  self: ClusterPort,
  now: number,
  staleProvisional: string[],
): Promise<{ wakeAt: number | null }> {
  const ports: Ports = portsFor(env, { region, cluster: self });
  const cfg = config(env);

  // 1. Silence: a node that missed NODE_OFFLINE_AFTER_SEC goes offline; the condition on
  //    last_heartbeat_at keeps a heartbeat that lands meanwhile from being overruled.
  const silent = await markSilentOffline(env.DB, region, now, now - cfg.nodeOfflineAfterSec * 1000);
  for (const node of silent) {
    await step("offline", node.id, () => self.upsertNode(snapshotOf(node)));
  }

  // 2. Failover, per contract, of every open contract on an offline node of the region — not only
  //    of the nodes that fell silent in this tick: a failover that threw last time is retried now,
  //    and one contract's failure never strands the others.
  const stranded = await strandedInRegion(env.DB, region);
  for (const { id, nodeRetired } of stranded) {
    await step("failover", id, async () => {
      const k = await loadContract(env, id);
      await failOver(ports, k, nodeRetired ? "node withdrawn by its provider" : "node went silent", now);
    });
  }

  // 3. Terms that have run out: renew, wait out the grace period, or end and settle.
  const due = await activeInRegion(env.DB, region);
  let wakeAt: number | null = null;
  for (const k of due) {
    if (k.endedAt !== null || k.endTime === null) continue;
    if (k.endTime > now) continue;
    await step("expiry", k.id, async () => {
      const after = await expireIfDue(ports, k, now);
      if (after.endedAt === null && after.graceUntil !== null)
        wakeAt = wakeAt === null ? after.graceUntil : Math.min(wakeAt, after.graceUntil);
    });
  }

  // 4. Metering: the accrued cost of every running contract, in one statement (db/contracts.ts).
  await meterRunning(env.DB, region, now);

  // 5. Pending contracts their node never made ready are failed over, never charged.
  await step("ready-timeouts", region, async () => {
    const nextReadyTimeout = await sweepReadyTimeouts(ports, region, now);
    if (nextReadyTimeout !== null) wakeAt = wakeAt === null ? nextReadyTimeout : Math.min(wakeAt, nextReadyTimeout);
  });

  // 6. Reservations whose contract never reached D1 are released; those that did are confirmed.
  for (const id of staleProvisional) {
    await step("provisional", id, async () => {
      const status = await contractStatus(env.DB, id);
      if (status === "pending" || status === "active") await self.confirm(region, id);
      else await self.release(region, id);
    });
  }

  // 7. Money and capacity left half-done by a failure elsewhere (settlement/reconcile.ts).
  await step("reconcile", region, () => reconcileRegion(env, region, self, now));

  // 8. A failover that ended its contract but threw before placing the rest of the term (a replacement
  //    node's reservation, D1 or the DO failing) is placed again until it has a result. The delay
  //    keeps this clear of a failover still running in a request.
  const unplaced = await unplacedFailovers(env.DB, region, now - FAILOVER_RETRY_AFTER_MS);
  for (const id of unplaced) await step("failover-remainder", id, async () => placeRemainder(ports, await loadContract(env, id)));
  return { wakeAt };
}
