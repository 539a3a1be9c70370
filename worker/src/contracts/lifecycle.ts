/**
 * A contract's life: created (capacity reserved in the region DO, estimated cost held), delivered
 * to the node (active), renewed or extended, and ended by settle, expiry, cancellation or failure;
 * then settled (the money side, settlement/settle.ts). Routes, the region DO's alarm and the
 * settlement consumer all come through here, so each rule exists once.
 */
import { durationBounds } from "../domain/offer";
import { config, type Env } from "../env";
import type { ContractRow, NodeRow } from "../db/schema";
import { billableSeconds, costMicro, egressCostMicro } from "../domain/money";
import { ApiError, invalid, notFound } from "../lib/errors";
import { AlreadyApplied, appendLedger, holdIfStatement } from "../ledger/service";
import { clientHomeRegion } from "../db/clients";
import {
  endIfUnchanged,
  extendIfUnchangedStatement,
  findContract,
  firstReplacementOf,
  linkReplacement,
  linkReplacementIfUnlinked,
  markFailoverDone,
  openContractsOnNode,
  openContractsOnNodeAmong,
  renewIfUnchangedStatement,
  sameRowGuard,
  startGraceIfNone,
} from "../db/contracts";
import { countFailedContract, findNode, nodeLiveness, nodePosition } from "../db/nodes";
import { portsFor, type Ports } from "../region/client";
import { settleContractMoney } from "../settlement/settle";
import { applyMeasuredEgress } from "../settlement/egress";
import { contractViewOf } from "./views";
import { createContract } from "./create";

const gbOf = (k: { ramGb: number; vramGb: number }) => k.ramGb + k.vramGb;

export async function loadContract(env: Env, id: string): Promise<ContractRow> {
  const row = await findContract(env.DB, id);
  if (!row) throw notFound("contract");
  return row;
}

/**
 * contract_update to the renter's sockets (on the contract's region and on their home region), and
 * the node's new contract list to its agent: every change of a contract comes through here.
 */
export async function notifyContract(ports: Ports, k: ContractRow, extra?: Record<string, unknown>) {
  await notifyNode(ports, k.region, k.nodeId);
  const message = { type: "contract_update", data: { ...(await contractViewOf(ports.env, k)), ...extra } };
  const home = await clientHomeRegion(ports.env.DB, k.clientId);
  const regions = new Set([k.region, home ?? "global"]);
  await Promise.all(
    [...regions].map((r) =>
      ports
        .cluster(r)
        .notifyUser(k.clientUserId, message)
        .catch(() => 0),
    ),
  );
}

/**
 * One of the node's contracts changed: its region object sends the node's agent the new list. A
 * failure here never fails the change itself (the heartbeat delivers the same list).
 */
export async function notifyNode(ports: Ports, region: string, nodeId: string): Promise<void> {
  try {
    await ports.cluster(region).pushNodeContracts(region, nodeId);
  } catch (e) {
    console.error(JSON.stringify({ level: "warn", event: "node_push_failed", node_id: nodeId, error: String((e as Error)?.message ?? e) }));
  }
}

// ---- delivery -------------------------------------------------------------------------------
// The node hears of a contract through its push channel (or heartbeat) and makes it active with
// `ready` once it holds the lease: contracts/activation.ts.

// ---- ending ---------------------------------------------------------------------------------

export interface EndInput {
  at: number;
  status: "completed" | "failed" | "cancelled";
  reason: string;
  egressGb?: number;
  /** End it only if it is still pending (a reject or ready timeout must never end a lease made ready meanwhile). */
  onlyPending?: boolean;
}

/** The final cost of a contract ended at `at` (see the billing rules in API.md). */
export function finalCostMicro(k: ContractRow, at: number, egressGb: number | undefined): number {
  if (k.startTime === null || k.endTime === null) return 0; // never active: nothing was held for the renter
  const paidUntil = Math.max(k.endTime, k.graceUntil ?? 0);
  const end = Math.min(at, paidUntil);
  const maxBillable = Math.ceil((paidUntil - k.startTime) / 1000);
  const seconds = billableSeconds(k.startTime, end, k.minDurationSec, maxBillable);
  return costMicro(gbOf(k), seconds, k.priceNano) + (egressGb ? egressCostMicro(egressGb, k.egressPriceMicro) : 0);
}

const MAX_REDECIDE = 8;

/**
 * Ends a contract once, as `decide` says on the current row: stops billing, frees the capacity at
 * once, and hands the money to the settlement queue. When the row changed under the decision (an
 * extend, a renewal, an activation landed), it is read again and decided again; `decide` returning
 * null means "not any more". A row already ended is returned as it is (settle twice, a redelivered
 * sweep). The release and the queue message are retried by the region reconciler if they fail
 * (settlement/reconcile.ts), so a failure after the D1 update strands nothing.
 */
export async function endIfOpen(ports: Ports, first: ContractRow, decide: (k: ContractRow) => EndInput | null): Promise<ContractRow> {
  const env = ports.env;
  let k = first;
  for (let attempt = 0; attempt < MAX_REDECIDE; attempt++) {
    if (k.endedAt !== null) return k;
    const input = decide(k);
    if (!input) return k;
    // A pending-only ending (cancel, ready timeout) never ends a contract that became active meanwhile.
    if (input.onlyPending && k.status !== "pending") return k;
    const cost = input.status === "cancelled" ? 0 : finalCostMicro(k, input.at, input.egressGb);
    const ended = await endIfUnchanged(env.DB, k, {
      status: input.status,
      at: input.at,
      reason: input.reason,
      egressGb: input.egressGb ?? null,
      costMicro: cost,
    });
    const after = await loadContract(env, k.id);
    if (!ended) {
      k = after;
      continue;
    }
    await afterEnd(ports, after);
    return after;
  }
  throw new ApiError("conflict", "this contract kept changing; try again");
}

/** The two steps after the D1 update; each failure is left to the reconciler, never to the caller. */
async function afterEnd(ports: Ports, k: ContractRow) {
  try {
    await ports.cluster(k.region).release(k.region, k.id);
  } catch (e) {
    console.error(JSON.stringify({ level: "warn", contract_id: k.id, step: "release", error: String((e as Error)?.message ?? e) }));
  }
  try {
    await ports.env.SETTLEMENT_QUEUE.send({ contract_id: k.id });
  } catch (e) {
    console.error(JSON.stringify({ level: "warn", contract_id: k.id, step: "queue", error: String((e as Error)?.message ?? e) }));
  }
  await notifyContract(ports, k).catch(() => undefined);
}

/** Ends a contract with `input` (re-read and re-applied if the row changed meanwhile). */
export async function endContract(ports: Ports, k: ContractRow, input: EndInput): Promise<ContractRow> {
  return endIfOpen(ports, k, () => input);
}

export async function cancelContract(ports: Ports, k: ContractRow): Promise<ContractRow> {
  if (k.status !== "pending") throw new ApiError("conflict", `only a pending contract can be cancelled; this one is ${k.status}`);
  // Decided on the current row: an activation that landed first wins, and the cancel is refused.
  const ended = await endIfOpen(ports, k, (c) =>
    c.status === "pending" ? { at: Date.now(), status: "cancelled", reason: "cancelled by the renter" } : null,
  );
  if (ended.status !== "cancelled") throw new ApiError("conflict", `only a pending contract can be cancelled; this one is ${ended.status}`);
  await settleContractMoney(ports.env, ended.id); // nothing to charge: give the hold back now
  return loadContract(ports.env, ended.id);
}

export async function settleContract(ports: Ports, k: ContractRow, egressGb: number | undefined): Promise<ContractRow> {
  if (k.status === "cancelled") throw new ApiError("conflict", "this contract was cancelled");
  if (k.endedAt !== null) return k; // settling twice is harmless and answers the same
  return endIfOpen(ports, k, () => ({ at: Date.now(), status: "completed", reason: "settled by the renter", egressGb }));
}

/**
 * The expiry sweep's decision, on the current row: a term that has run out renews (auto_renew, on
 * a live node), waits out its grace period, or ends. An extend that landed after the sweep read
 * the row moves the end, and the re-decision then leaves the contract running.
 */
export async function expireIfDue(ports: Ports, k: ContractRow, now: number): Promise<ContractRow> {
  const due = (c: ContractRow) => c.endedAt === null && c.status === "active" && c.endTime !== null && c.endTime <= now;
  if (!due(k)) return k;
  if (k.autoRenew === 1 && (await nodeIsLive(ports.env, k.nodeId))) {
    const renewed = await renewOrGrace(ports, k, now);
    if (renewed.endedAt !== null || renewed.graceUntil === null || now < renewed.graceUntil) return renewed;
    return endIfOpen(ports, renewed, (c) =>
      c.status === "active" && c.graceUntil !== null && c.graceUntil <= now
        ? { at: c.graceUntil, status: "completed", reason: "balance ran out after the grace period" }
        : null,
    );
  }
  // Not renewing (or never on a node that is gone): the term ends where it ends.
  return endIfOpen(ports, k, (c) => (due(c) ? { at: c.endTime!, status: "completed", reason: "term ended" } : null));
}

async function nodeIsLive(env: Env, nodeId: string): Promise<boolean> {
  const n = await nodeLiveness(env.DB, nodeId);
  return !!n && n.status !== "offline" && n.retiredAt === null;
}

// ---- extend and renew -----------------------------------------------------------------------

/**
 * Holds `cost` more for `k`'s renter together with `change` to the contract row, in one batch that
 * applies only while the row is still as read (sameRowGuard): a hold never exists without the row
 * that carries it. False when the row had changed and nothing was written.
 */
async function holdWithChange(
  env: Env,
  k: ContractRow,
  cost: number,
  entry: { idempotencyKey: string; memo: string },
  change: D1PreparedStatement,
  now = Date.now(),
): Promise<boolean> {
  const guard = sameRowGuard(k);
  const { applied } = await appendLedger(
    env.DB,
    [{ kind: "hold", userId: k.clientUserId, contractId: k.id, amountMicro: -cost, ...entry }],
    () => [holdIfStatement(env.DB, k.clientId, cost, guard, now), change],
    guard,
  );
  return applied;
}

/**
 * Adds time to a running (or pending) contract, holding its cost, within the offer's maximum. The
 * hold, its ledger entry and the contract's new term are one guarded batch on the row as read: if
 * the row changed meanwhile (another extend, a renewal, the end), nothing is written and the
 * extension is decided again on the current row.
 */
export async function extendContract(ports: Ports, first: ContractRow, additionalSec: number): Promise<ContractRow> {
  const env = ports.env;
  let k = first;
  for (let attempt = 0; attempt < MAX_REDECIDE; attempt++) {
    if (k.endedAt !== null || (k.status !== "active" && k.status !== "pending"))
      throw new ApiError("conflict", `a ${k.status} contract cannot be extended`);
    if (k.graceUntil !== null) throw new ApiError("conflict", "this contract is in its balance grace period; top up and it renews");
    const termSec = k.termSec + additionalSec;
    if (termSec > k.maxDurationSec)
      throw invalid("additional_sec", `would make the term ${termSec} s; this offer allows at most ${k.maxDurationSec} s`);
    const cost = costMicro(gbOf(k), additionalSec, k.priceNano);
    let applied: boolean;
    try {
      applied = await holdWithChange(
        env,
        k,
        cost,
        { idempotencyKey: `hold:${k.id}:term${k.termSec}:renewal${k.renewals}:+${additionalSec}`, memo: `extended by ${additionalSec} s` },
        extendIfUnchangedStatement(env.DB, k, additionalSec, cost),
      );
    } catch (e) {
      // The same extension of the same term was written by a retry of this request: read again.
      if (!(e instanceof AlreadyApplied)) throw e;
      applied = false;
    }
    const after = await loadContract(env, k.id);
    if (!applied) {
      k = after;
      continue;
    }
    if (after.endTime !== null) await ports.cluster(k.region).activate(k.region, k.id, after.endTime);
    await notifyContract(ports, after);
    return after;
  }
  throw new ApiError("conflict", "this contract kept changing while extending it; try again");
}

/**
 * At the end of an auto-renewing term: hold the next term, or start the grace period. Both are
 * guarded on the row as read, so a renewal decided before a settle holds nothing.
 */
export async function renewOrGrace(ports: Ports, k: ContractRow, now: number): Promise<ContractRow> {
  const env = ports.env;
  if (k.endedAt !== null || k.status !== "active") return loadContract(env, k.id);
  const cost = costMicro(gbOf(k), k.durationSec, k.priceNano);
  let applied: boolean;
  try {
    applied = await holdWithChange(
      env,
      k,
      cost,
      { idempotencyKey: `hold:${k.id}:renewal${k.renewals + 1}`, memo: "auto-renewal" },
      renewIfUnchangedStatement(env.DB, k, cost),
      now,
    );
  } catch (e) {
    if (e instanceof AlreadyApplied) return loadContract(env, k.id);
    if (e instanceof ApiError && (e.code === "insufficient_funds" || e.code === "budget_exceeded")) {
      if (k.graceUntil !== null) return k;
      const grace = (k.endTime ?? now) + config(env).balanceGraceSec * 1000;
      await startGraceIfNone(env.DB, k, grace);
      const after = await loadContract(env, k.id);
      await notifyContract(ports, after, {
        warning: e.code,
        message: `Your balance cannot cover the next term. The contract runs on until ${new Date(grace).toISOString()} and then ends; top up to keep it.`,
      });
      return after;
    }
    throw e;
  }
  const after = await loadContract(env, k.id);
  if (!applied) return after; // renewed or ended by someone else meanwhile
  await ports.cluster(k.region).activate(k.region, k.id, after.endTime!);
  await notifyContract(ports, after);
  return after;
}

// ---- failure and failover -------------------------------------------------------------------

/**
 * The node lost a contract: end it `failed` (charged only for the time held), then move the rest of
 * its term to the best other node in the region that can hold it, as a new linked contract.
 */
export async function failOver(
  ports: Ports,
  k: ContractRow,
  reason: string,
  now: number,
  opts: { onlyPending?: boolean } = {},
): Promise<ContractRow> {
  const env = ports.env;
  const remainingSec = k.startTime !== null && k.endTime !== null ? Math.ceil((k.endTime - now) / 1000) : k.termSec;
  const failed = await endContract(ports, k, { at: now, status: "failed", reason, onlyPending: opts.onlyPending });
  if (failed.failedOverTo || failed.status !== "failed" || failed.endedAt !== now) return failed; // someone else handled it
  await countFailedContract(env.DB, k.nodeId);
  // Settle now rather than wait for the queue, so the unused hold is free for the replacement;
  // egress is what the node measured so far (a failing node may never send its receipt).
  await applyMeasuredEgress(env, k.id, Date.now());
  await settleContractMoney(env, k.id);
  return placeRemainder(ports, await loadContract(env, k.id), remainingSec);
}

/** The rest of a failed contract's term, in seconds, as it was when the contract ended. */
function remainderOf(k: ContractRow): number {
  if (k.startTime === null || k.endTime === null) return k.termSec; // never started: the whole term
  return Math.ceil((k.endTime - (k.endedAt ?? k.endTime)) / 1000);
}

/**
 * The second half of a failover: move the rest of the term to the best other node in the region,
 * as a new linked contract, and record that the failover has its result (`failover_done_at`):
 * a replacement, or none possible. A throw leaves it unrecorded, and the region reconciler calls
 * this again (retryUnplacedFailovers) until it has a result.
 */
export async function placeRemainder(ports: Ports, k: ContractRow, remainingSec: number = remainderOf(k)): Promise<ContractRow> {
  const env = ports.env;
  const done = async () => {
    await markFailoverDone(env.DB, k.id, Date.now());
    return loadContract(env, k.id);
  };
  if (k.failedOverTo || k.failoverDoneAt !== null) return k;
  if (remainingSec <= 0) return done();
  // An earlier attempt may have created the replacement and failed before linking it: link that one.
  const earlier = await firstReplacementOf(env.DB, k.id);
  if (earlier) {
    await linkReplacementIfUnlinked(env.DB, k.id, earlier, Date.now());
    return loadContract(env, k.id);
  }

  const origin = await nodePosition(env.DB, k.nodeId);
  const { matches } = await ports.cluster(k.region).match(k.region, {
    ramGb: k.ramGb,
    vramGb: k.vramGb,
    durationSec: remainingSec,
    preferLocal: true,
    clientLat: origin?.latitude ?? null,
    clientLng: origin?.longitude ?? null,
    limit: 10,
  });
  for (const m of matches) {
    if (m.node.id === k.nodeId) continue;
    try {
      const found = await findNode(env.DB, m.node.id);
      if (!found) continue; // gone since the match
      const bounds = durationBounds(found.offer);
      const duration = Math.min(Math.max(remainingSec, bounds.min), bounds.max);
      const replacement = await createContract(
        ports,
        { id: k.clientUserId },
        { nodeId: m.node.id, ramGb: k.ramGb, vramGb: k.vramGb, durationSec: duration, autoRenew: k.autoRenew === 1, failedOverFrom: k.id },
      );
      await linkReplacement(env.DB, k.id, replacement.id, Date.now());
      const after = await loadContract(env, k.id);
      await notifyContract(ports, after);
      return after;
    } catch (e) {
      if (
        e instanceof ApiError &&
        ["insufficient_capacity", "insufficient_funds", "budget_exceeded", "validation_failed", "not_found"].includes(e.code)
      )
        continue;
      throw e;
    }
  }
  return done(); // no node in the region can hold it: the contract stays failed, unused time never charged
}

/** Every pending or active contract of a node that went away (silent, withdrawn) is failed over. */
export async function failOverNode(env: Env, node: NodeRow, reason: string, ports: Ports = portsFor(env)): Promise<number> {
  const open = await openContractsOnNode(env.DB, node.id);
  const now = Date.now();
  for (const k of open) {
    try {
      await failOver(ports, k, reason, now);
    } catch (e) {
      // The node is offline, so the region sweep retries this contract on its next tick.
      console.error(JSON.stringify({ level: "error", contract_id: k.id, step: "failover", error: String((e as Error)?.message ?? e) }));
    }
  }
  return open.length;
}

/** Contracts a node says it cannot hold (listed in its heartbeat) are failed over. */
export async function rejectContracts(env: Env, node: NodeRow, ids: string[]): Promise<void> {
  const ports = portsFor(env);
  // The ids go in as one JSON parameter: a list of up to 1,000 would pass D1's 100 bound parameters.
  const open = await openContractsOnNodeAmong(env.DB, node.id, ids);
  const now = Date.now();
  for (const k of open) await failOver(ports, k, "rejected by the node", now);
}
