import { describe, expect, it } from "vitest";
import type { HeartbeatContract } from "../src/api.ts";
import { planList, type HeldLease } from "../src/reconcile.ts";

const END = "2026-11-22T05:00:00.000Z";
const LATER = "2026-11-22T06:00:00.000Z";
const pending = (id: string, ram = 1): HeartbeatContract => ({ id, ram_gb: ram, vram_gb: 0, end_time: null, status: "pending" });
const active = (id: string, end = END): HeartbeatContract => ({ id, ram_gb: 1, vram_gb: 0, end_time: end, status: "active" });
const held = (c: HeartbeatContract, seenSeq: number, ready = c.status === "active"): HeldLease => ({ contract: c, seenSeq, ready });

describe("reconciling a contract list", () => {
  it("opens what is new and pending; an active contract with no lease here was lost", () => {
    const plan = planList([pending("a"), active("b")], 1, new Map(), new Map(), new Set());
    expect(plan.fresh.map((c) => c.id)).toEqual(["a"]);
    expect(plan.lost.map((c) => c.id)).toEqual(["b"]);
    expect(plan.end).toEqual([]);
  });

  it("ends a lease only when a newer list no longer has it", () => {
    const leases = new Map([["a", held(active("a"), 5)]]);
    expect(planList([], 6, leases, new Map(), new Set()).end).toEqual(["a"]);
  });

  it("a heartbeat answer computed before a pushed contract existed never closes its lease", () => {
    // Heartbeat request sent as list 4; the contract arrives by push as list 5 and is opened;
    // then the heartbeat's answer (list 4, without it) is applied.
    const leases = new Map([["a", held(pending("a"), 5, false)]]);
    const plan = planList([], 4, leases, new Map(), new Set());
    expect(plan.end).toEqual([]);
  });

  it("an older list never changes what a newer one said (a stale 'pending' does not ask for ready again)", () => {
    const leases = new Map([["a", held(active("a", LATER), 7)]]);
    const plan = planList([pending("a")], 6, leases, new Map(), new Set());
    expect(plan.seen).toEqual([]);
  });

  it("moves the end when it changes, never erases a known end, and asks for ready while pending", () => {
    const leases = new Map([
      ["a", held(active("a", END), 1)],
      ["b", held(active("b", END), 1)],
      ["c", held(pending("c"), 1, false)],
      ["d", held(pending("d"), 1, true)],
    ]);
    const plan = planList([active("a", LATER), pending("b"), pending("c"), pending("d")], 2, leases, new Map(), new Set());
    const by = Object.fromEntries(plan.seen.map((s) => [s.id, s]));
    expect(by.a).toMatchObject({ endChanged: true, contract: { end_time: LATER }, needsReady: false });
    expect(by.b).toMatchObject({ endChanged: false, contract: { end_time: END } });
    expect(by.c.needsReady).toBe(true);
    expect(by.d.needsReady).toBe(false); // ready already confirmed: the list is just late
  });

  it("a refused contract still listed is refused again, and forgotten once a newer list drops it", () => {
    const rejected = new Map([["r", 3]]);
    const gone = new Set(["r"]);
    expect(planList([pending("r")], 4, new Map(), rejected, gone)).toMatchObject({ sayRejectAgain: ["r"], fresh: [] });
    expect(planList([], 3, new Map(), rejected, gone).forgetRejected).toEqual([]); // not newer than the refusal
    expect(planList([], 4, new Map(), rejected, gone).forgetRejected).toEqual(["r"]);
  });

  it("a contract ended or refused here is never reopened by a late list", () => {
    const plan = planList([pending("x"), active("y")], 9, new Map(), new Map(), new Set(["x", "y"]));
    expect(plan.fresh).toEqual([]);
    expect(plan.lost).toEqual([]);
  });
});
