import { UPTIME_WINDOW_SEC, expectedHeartbeats, uptimeScore } from "./reliability";

/** The start of the reliability window ending at `nowMs`: heartbeats and failures before it stop counting. */
export function reliabilityWindowStart(nowMs: number, windowSec = UPTIME_WINDOW_SEC): number {
  return nowMs - windowSec * 1000;
}

/**
 * The uptime score a heartbeat writes. The heartbeat being accepted counts both as received and as
 * owed (the counts come from before it is stored), and both counts cover the same window.
 */
export function heartbeatScore(input: {
  receivedInWindow: number;
  failedInWindow: number;
  registeredAtMs: number;
  nowMs: number;
  intervalSec: number;
}): number {
  return uptimeScore({
    heartbeatsReceived: input.receivedInWindow + 1,
    expectedHeartbeats:
      expectedHeartbeats({ registeredAtMs: input.registeredAtMs, nowMs: input.nowMs, intervalSec: Math.max(input.intervalSec, 1) }) + 1,
    failedContracts: input.failedInWindow,
  });
}

/**
 * Whole seconds until a node may send its next heartbeat, at least 1 (the Retry-After of a 429).
 * The decision itself is the conditional UPDATE in the heartbeat handler, so that two racing
 * heartbeats cannot both pass; this only says how long to wait.
 */
export function heartbeatRetryAfterSec(lastHeartbeatAt: number | null, nowMs: number, intervalSec: number): number {
  return Math.max(1, Math.ceil(((lastHeartbeatAt ?? nowMs) + intervalSec * 1000 - nowMs) / 1000));
}
