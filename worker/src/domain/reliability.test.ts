import { describe, expect, it } from "vitest";
import { DEFAULT_WARMUP_HEARTBEATS, expectedHeartbeats, uptimeScore } from "./reliability";

const MONTH = 43_200; // heartbeats owed in 30 days at one a minute

describe("uptimeScore", () => {
  it("starts a new node at the default", () => {
    expect(uptimeScore({ heartbeatsReceived: 0, expectedHeartbeats: 0, failedContracts: 0 })).toBe(99);
    expect(uptimeScore({ heartbeatsReceived: 0, expectedHeartbeats: 0, failedContracts: 0, defaultScore: 80 })).toBe(80);
  });

  it("blends from the default toward the measured share during warm-up", () => {
    expect(DEFAULT_WARMUP_HEARTBEATS).toBe(1440);
    // Half warmed up (720 of 1440 owed), all received: 99 × 0.5 + 100 × 0.5 = 99.5.
    expect(uptimeScore({ heartbeatsReceived: 720, expectedHeartbeats: 720, failedContracts: 0 })).toBe(99.5);
    // Half warmed up, half received: 99 × 0.5 + 50 × 0.5 = 74.5.
    expect(uptimeScore({ heartbeatsReceived: 360, expectedHeartbeats: 720, failedContracts: 0 })).toBe(74.5);
    // A missed first heartbeat barely counts: 1 of 2 owed → 99 × (1 − 2/1440) + 50 × 2/1440 = 98.93194…
    expect(uptimeScore({ heartbeatsReceived: 1, expectedHeartbeats: 2, failedContracts: 0 })).toBe(98.93);
  });

  it("is the measured share once warmed up", () => {
    expect(uptimeScore({ heartbeatsReceived: 1440, expectedHeartbeats: 1440, failedContracts: 0 })).toBe(100);
    expect(uptimeScore({ heartbeatsReceived: 720, expectedHeartbeats: 1440, failedContracts: 0 })).toBe(50);
    // An hour offline in a month: 100 × (43200 − 60) / 43200 = 99.8611… → 99.86.
    expect(uptimeScore({ heartbeatsReceived: MONTH - 60, expectedHeartbeats: MONTH, failedContracts: 0 })).toBe(99.86);
  });

  it("does not reward more heartbeats than were owed", () => {
    expect(uptimeScore({ heartbeatsReceived: 2 * MONTH, expectedHeartbeats: MONTH, failedContracts: 0 })).toBe(100);
  });

  it("subtracts 5 points per failed contract and clamps to 0..100", () => {
    expect(uptimeScore({ heartbeatsReceived: MONTH, expectedHeartbeats: MONTH, failedContracts: 2 })).toBe(90);
    expect(uptimeScore({ heartbeatsReceived: 0, expectedHeartbeats: 0, failedContracts: 1 })).toBe(94);
    expect(uptimeScore({ heartbeatsReceived: MONTH, expectedHeartbeats: MONTH, failedContracts: 30 })).toBe(0);
    expect(uptimeScore({ heartbeatsReceived: 1, expectedHeartbeats: 0, failedContracts: 0, defaultScore: 150 })).toBe(100);
  });

  it("rounds to 2 decimals", () => {
    // 100 × 43000 / 43200 = 99.537037… → 99.54; 100 × 1 / 3 = 33.333… → 33.33.
    expect(uptimeScore({ heartbeatsReceived: 43_000, expectedHeartbeats: MONTH, failedContracts: 0 })).toBe(99.54);
    expect(uptimeScore({ heartbeatsReceived: 1, expectedHeartbeats: 3, failedContracts: 0, warmupHeartbeats: 1 })).toBe(33.33);
  });

  it("treats nonsense counts as zero", () => {
    expect(uptimeScore({ heartbeatsReceived: -5, expectedHeartbeats: Number.NaN, failedContracts: -1 })).toBe(99);
  });
});

describe("expectedHeartbeats", () => {
  const day = 86_400_000;
  const now = Date.UTC(2026, 10, 22);

  it("counts only the part of the 30-day window since registration", () => {
    expect(expectedHeartbeats({ registeredAtMs: now - day, nowMs: now })).toBe(1440);
    expect(expectedHeartbeats({ registeredAtMs: now - 60 * day, nowMs: now })).toBe(MONTH);
    expect(expectedHeartbeats({ registeredAtMs: now - 59_999, nowMs: now })).toBe(0);
    expect(expectedHeartbeats({ registeredAtMs: now + day, nowMs: now })).toBe(0);
    expect(expectedHeartbeats({ registeredAtMs: now - day, nowMs: now, intervalSec: 30 })).toBe(2880);
    expect(() => expectedHeartbeats({ registeredAtMs: 0, nowMs: now, intervalSec: 0 })).toThrow(RangeError);
  });
});
