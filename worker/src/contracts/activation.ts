/**
 * A contract becomes active only when its node says it holds the lease (`ready`), and the term and
 * billing start then. A node that cannot hold it says so (`reject`), and one that says nothing within
 * LEASE_READY_TIMEOUT_SEC is taken to have failed: both fail the contract over, never charged.
 */
import { config } from "../env";
import { activateIfPending, findContractOnNode, pendingInRegion } from "../db/contracts";
import type { ContractRow, NodeRow } from "../db/schema";
import { ApiError, notFound } from "../lib/errors";
import type { Ports } from "../region/client";
import { failOver, loadContract, notifyContract } from "./lifecycle";

/**
 * `ready`: pending → active in one guarded statement. What to answer is decided on the row as it is
 * after that statement, never on one read before it: a second `ready` (or one racing the timeout
 * sweep) finds the contract active (200, the same contract) or ended (409).
 */
export async function markReady(ports: Ports, node: NodeRow, contractId: string, now: number): Promise<ContractRow> {
  const env = ports.env;
  if (node.endpoint === null)
    throw new ApiError(
      "conflict",
      "this node has not published a lease endpoint: send `endpoint` (host:port) in its registration, update or heartbeat first",
    );
  const activated = await activateIfPending(env.DB, contractId, node.id, now);
  const k = await loadContractOnNode(ports, node, contractId);
  if (activated) {
    await ports.cluster(k.region).activate(k.region, k.id, k.endTime!);
    await notifyContract(ports, k);
    return k;
  }
  if (k.status === "active" && k.endedAt === null) return k;
  throw new ApiError("conflict", `only a pending contract can be made ready; this one is ${k.status}`);
}

/**
 * `reject`: the node cannot hold the contract. A pending one is failed over and never charged (it
 * never started); an active one (a lease lost after ready) is failed over like a node failure.
 * Rejecting a contract that already failed answers it again.
 */
export async function rejectContract(
  ports: Ports,
  node: NodeRow,
  contractId: string,
  reason: string | undefined,
  now: number,
): Promise<ContractRow> {
  const k = await loadContractOnNode(ports, node, contractId);
  if (k.endedAt === null && (k.status === "pending" || k.status === "active")) {
    await failOver(ports, k, reason ? `rejected by the node: ${reason}` : "rejected by the node", now);
  }
  const after = await loadContract(ports.env, contractId);
  if (after.status === "failed") return after;
  throw new ApiError("conflict", `this contract is ${after.status} and can no longer be rejected`);
}

async function loadContractOnNode(ports: Ports, node: NodeRow, contractId: string): Promise<ContractRow> {
  const k = await findContractOnNode(ports.env.DB, contractId, node.id);
  if (!k) throw notFound("contract"); // another node's contract is none of this node's business
  return k;
}

/**
 * The region's ready-timeout sweep (region DO alarm): pending contracts older than
 * LEASE_READY_TIMEOUT_SEC are failed over. The end is guarded on `pending`, so a `ready` that lands
 * during the sweep wins. Returns when the next pending contract times out, for the alarm.
 */
export async function sweepReadyTimeouts(ports: Ports, region: string, now: number): Promise<number | null> {
  const timeoutMs = config(ports.env).leaseReadyTimeoutSec * 1000;
  const pending = await pendingInRegion(ports.env.DB, region);
  let next: number | null = null;
  for (const k of pending) {
    if (k.endedAt !== null) continue;
    const deadline = k.createdAt + timeoutMs;
    if (deadline <= now) {
      await failOver(ports, k, `not made ready by the node within ${timeoutMs / 1000} s`, now, { onlyPending: true });
    } else if (next === null || deadline < next) next = deadline;
  }
  return next;
}
