import { describe, expect, it } from "vitest";
import { defaultReserveGb, fitContracts, leaseRoomGb, offeredGb } from "../src/capacity.ts";

describe("owner reserve", () => {
  it("is 4 GB on small machines and 20 % of total on large ones", () => {
    expect(defaultReserveGb(8)).toBe(4);
    expect(defaultReserveGb(16)).toBe(4);
    expect(defaultReserveGb(20)).toBe(4); // the crossover: 20 % of 20 GB is exactly 4
    expect(defaultReserveGb(32)).toBeCloseTo(6.4);
    expect(defaultReserveGb(64)).toBeCloseTo(12.8);
    expect(defaultReserveGb(2)).toBe(4); // a machine smaller than the reserve offers nothing
  });
});

describe("offered capacity", () => {
  it("is available minus reserve, rounded down to whole GB", () => {
    expect(offeredGb(30, 6.4)).toBe(23); // 23.6 → 23
    expect(offeredGb(12, 4)).toBe(8);
    expect(offeredGb(12.99, 4)).toBe(8);
    expect(offeredGb(64, 12.8)).toBe(51);
  });

  it("is never negative", () => {
    expect(offeredGb(3, 4)).toBe(0);
    expect(offeredGb(4, 4)).toBe(0);
    expect(offeredGb(0, 4)).toBe(0);
    expect(offeredGb(4.9, 4)).toBe(0);
  });

  it("is an integer for fractional inputs that are whole in decimal", () => {
    // 0.1 + 0.2 style noise must not cost the owner a GB: 10.3 − 0.3 is 10, not 9.999…
    expect(offeredGb(10.3, 0.3)).toBe(10);
    for (const a of [0, 1.5, 7.25, 23.6, 100]) expect(Number.isInteger(offeredGb(a, 1.1))).toBe(true);
  });

  it("is zero outside the idle schedule", () => {
    expect(offeredGb(30, 6.4, false)).toBe(0);
    expect(offeredGb(30, 0, false)).toBe(0);
  });
});

describe("which contracts fit", () => {
  const c = (id: string, ram_gb: number, vram_gb = 0) => ({ id, ram_gb, vram_gb });

  it("holds what fits in order and rejects the rest", () => {
    const { hold, reject } = fitContracts([c("a", 4), c("b", 10), c("c", 3)], { ram_gb: 8, vram_gb: 0 });
    expect(hold.map((x) => x.id)).toEqual(["a", "c"]);
    expect(reject.map((x) => x.id)).toEqual(["b"]);
  });

  it("counts contracts already held against the offer", () => {
    const { hold, reject } = fitContracts([c("new", 4)], { ram_gb: 8, vram_gb: 0 }, [c("old", 6)]);
    expect(hold).toEqual([]);
    expect(reject.map((x) => x.id)).toEqual(["new"]);
  });

  it("checks VRAM separately from RAM", () => {
    const { hold, reject } = fitContracts([c("gpu", 1, 8), c("cpu", 2, 0)], { ram_gb: 16, vram_gb: 4 });
    expect(hold.map((x) => x.id)).toEqual(["cpu"]);
    expect(reject.map((x) => x.id)).toEqual(["gpu"]);
  });

  it("rejects everything when nothing is offered (outside the schedule)", () => {
    const { hold, reject } = fitContracts([c("a", 1)], { ram_gb: 0, vram_gb: 0 });
    expect(hold).toEqual([]);
    expect(reject).toHaveLength(1);
  });
});

describe("room for new leases", () => {
  it("is free memory beyond the reserve minus what open leases hold", () => {
    expect(leaseRoomGb({ availableGb: 20, reserveGb: 4, heldGb: 0 })).toBe(16);
    expect(leaseRoomGb({ availableGb: 20, reserveGb: 4, heldGb: 10 })).toBe(6);
    expect(leaseRoomGb({ availableGb: 20, reserveGb: 4, heldGb: 16 })).toBe(0);
    expect(leaseRoomGb({ availableGb: 20, reserveGb: 4, heldGb: 30 })).toBe(0); // never negative
    expect(leaseRoomGb({ availableGb: 20.9, reserveGb: 4, heldGb: 1 })).toBe(15); // whole GB, rounded down
  });

  it("adds back bytes renters already wrote: they left free memory and are inside the quota too", () => {
    // 10 GB leased, 6 GB of it written: the machine's free memory fell from 20 to 14 GB.
    expect(leaseRoomGb({ availableGb: 14, reserveGb: 4, heldGb: 10, usedGb: 6 })).toBe(6);
    expect(leaseRoomGb({ availableGb: 14, reserveGb: 4, heldGb: 10, usedGb: 0 })).toBe(0);
  });

  it("is nothing outside the idle schedule", () => {
    expect(leaseRoomGb({ availableGb: 20, reserveGb: 4, heldGb: 0, idle: false })).toBe(0);
  });
});
