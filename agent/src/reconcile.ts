/**
 * What one contract list means for the leases this agent holds: a pure function, so the rules
 * that keep a lease alive or end it can be tested without a server.
 *
 * Lists arrive on two paths (the push channel and heartbeat answers) and may cross: a heartbeat
 * answer can be computed before a contract that was pushed a moment later existed. Every list
 * therefore carries a number (a heartbeat's when its request was sent, a pushed one's when it
 * arrived), and a list only speaks about a lease or a refusal newer than itself.
 */
import type { HeartbeatContract } from "./api.ts";

export interface HeldLease {
  contract: HeartbeatContract;
  /** The newest list this lease appeared in (or was opened from). */
  seenSeq: number;
  ready: boolean;
}

export interface SeenLease {
  id: string;
  /** The contract as it is now known (a pending list's null end never erases a known end). */
  contract: HeartbeatContract;
  /** The end moved (extend, renew) or became known: the lease server must hear of it. */
  endChanged: boolean;
  /** Still pending on the server and not yet confirmed ready by this agent. */
  needsReady: boolean;
}

export interface ListPlan {
  /** Leases gone from a list newer than the one they were last seen in: end them. */
  end: string[];
  seen: SeenLease[];
  /** Refused but still listed: the server has not processed the refusal yet; say it again. */
  sayRejectAgain: string[];
  /** Refusals the server has processed (no longer listed by a newer list). */
  forgetRejected: string[];
  /** Pending contracts this agent has never held nor refused: open them if they fit. */
  fresh: HeartbeatContract[];
  /** Active contracts with no lease here: their memory was lost (a restart or crash). */
  lost: HeartbeatContract[];
}

export function planList(
  list: HeartbeatContract[],
  seq: number,
  leases: ReadonlyMap<string, HeldLease>,
  rejected: ReadonlyMap<string, number>,
  gone: ReadonlySet<string>,
): ListPlan {
  const listed = new Set(list.map((c) => c.id));
  const plan: ListPlan = { end: [], seen: [], sayRejectAgain: [], forgetRejected: [], fresh: [], lost: [] };
  for (const [id, l] of leases) if (!listed.has(id) && seq > l.seenSeq) plan.end.push(id);
  for (const [id, at] of rejected) if (!listed.has(id) && seq > at) plan.forgetRejected.push(id);
  for (const c of list) {
    const l = leases.get(c.id);
    if (l) {
      if (seq < l.seenSeq) continue; // older than what is known: nothing new in it
      const endTime = c.end_time ?? l.contract.end_time;
      plan.seen.push({
        id: c.id,
        contract: { ...c, end_time: endTime },
        endChanged: endTime !== l.contract.end_time,
        needsReady: c.status === "pending" && !l.ready,
      });
      continue;
    }
    if (rejected.has(c.id)) plan.sayRejectAgain.push(c.id);
    else if (gone.has(c.id))
      continue; // ended here: a late list never reopens it
    else if (c.status === "pending") plan.fresh.push(c);
    else plan.lost.push(c);
  }
  return plan;
}
