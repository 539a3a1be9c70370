import { describe, expect, it } from "vitest";
import { heartbeatRetryAfterSec, heartbeatScore, reliabilityWindowStart } from "./heartbeat";

const DAY = 86_400_000;

describe("the heartbeat's arithmetic", () => {
  it("looks back 30 days", () => {
    expect(reliabilityWindowStart(100 * DAY)).toBe(70 * DAY);
    expect(reliabilityWindowStart(100 * DAY, 60)).toBe(100 * DAY - 60_000);
  });

  it("counts the accepted beat as received and owed: a month-old node that never missed scores 100", () => {
    // 30 days at 60 s = 43 200 owed, all received before this one.
    expect(heartbeatScore({ receivedInWindow: 43_200, failedInWindow: 0, registeredAtMs: 0, nowMs: 30 * DAY, intervalSec: 60 })).toBe(100);
    // Half of them: 21 601 / 43 201 received, fully weighted after the warm-up day.
    expect(heartbeatScore({ receivedInWindow: 21_600, failedInWindow: 0, registeredAtMs: 0, nowMs: 30 * DAY, intervalSec: 60 })).toBe(50);
    // Each failed contract costs 5 points.
    expect(heartbeatScore({ receivedInWindow: 43_200, failedInWindow: 2, registeredAtMs: 0, nowMs: 30 * DAY, intervalSec: 60 })).toBe(90);
  });

  it("treats an interval under one second as one second", () => {
    const a = heartbeatScore({ receivedInWindow: 10, failedInWindow: 0, registeredAtMs: 0, nowMs: 20_000, intervalSec: 0 });
    const b = heartbeatScore({ receivedInWindow: 10, failedInWindow: 0, registeredAtMs: 0, nowMs: 20_000, intervalSec: 1 });
    expect(a).toBe(b);
  });

  it("says how long to wait before the next heartbeat, rounded up, at least 1 s", () => {
    expect(heartbeatRetryAfterSec(1_000, 11_000, 30)).toBe(20);
    expect(heartbeatRetryAfterSec(1_000, 11_001, 30)).toBe(20); // 19.999 s → 20
    expect(heartbeatRetryAfterSec(1_000, 40_000, 30)).toBe(1); // already due: never 0
    expect(heartbeatRetryAfterSec(null, 5_000, 30)).toBe(30);
  });
});
