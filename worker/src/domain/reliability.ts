/**
 * A node's uptime_score (0..100), the figure renters filter on (`min_uptime_score`) and the match
 * score weighs (reliability = uptime_score × 0.5).
 *
 * Formula, over a rolling 30-day window:
 *
 *   share     = min(received, expected) / expected            (1 when nothing was expected yet)
 *   measured  = 100 × share
 *   weight    = min(1, expected / warmupHeartbeats)
 *   blended   = defaultScore × (1 − weight) + measured × weight
 *   score     = clamp(blended − failedContracts × FAILED_CONTRACT_PENALTY, 0, 100),
 *               rounded to 2 decimals (half up)
 *
 * - `expected` is how many heartbeats the node owed in the window: the part of the window since it
 *   registered, divided by the heartbeat interval (`expectedHeartbeats`). `received` is how many
 *   were accepted. Extra heartbeats beyond the expected count never lift a node above 100 %.
 * - A new node has had no chance to prove itself, so it starts at `defaultScore` (99, the seed's default) and moves
 *   linearly toward its measured share as its record grows, fully measured once it has owed
 *   `warmupHeartbeats` (1,440: a day at 60 s heartbeats, half a day at 30 s). One missed
 *   heartbeat in a node's first minutes therefore costs it little, and one hour offline costs a
 *   month-old node 100 / 720 ≈ 0.14 points, whatever the interval.
 * - Each contract the node failed in the same window (it went offline holding it, or rejected it
 *   after accepting) subtracts FAILED_CONTRACT_PENALTY = 5 points: a renter lost work, which a
 *   heartbeat count alone does not show. The penalty ages out with the window.
 */

export const DEFAULT_UPTIME_SCORE = 99;
export const FAILED_CONTRACT_PENALTY = 5;
export const UPTIME_WINDOW_SEC = 30 * 24 * 3600;
export const DEFAULT_HEARTBEAT_INTERVAL_SEC = 60;
export const DEFAULT_WARMUP_HEARTBEATS = (24 * 3600) / DEFAULT_HEARTBEAT_INTERVAL_SEC;

export interface UptimeInputs {
  heartbeatsReceived: number;
  expectedHeartbeats: number;
  failedContracts: number;
  defaultScore?: number;
  warmupHeartbeats?: number;
}

export function uptimeScore({
  heartbeatsReceived,
  expectedHeartbeats,
  failedContracts,
  defaultScore = DEFAULT_UPTIME_SCORE,
  warmupHeartbeats = DEFAULT_WARMUP_HEARTBEATS,
}: UptimeInputs): number {
  const expected = nonNegative(expectedHeartbeats);
  const received = Math.min(nonNegative(heartbeatsReceived), expected);
  const measured = expected > 0 ? (100 * received) / expected : 100;
  const weight = warmupHeartbeats > 0 ? Math.min(1, expected / warmupHeartbeats) : 1;
  const blended = clamp(defaultScore) * (1 - weight) + measured * weight;
  const score = clamp(blended - nonNegative(failedContracts) * FAILED_CONTRACT_PENALTY);
  return Math.round(score * 100) / 100;
}

/**
 * Heartbeats a node owed in the window ending at `nowMs`: only the part of the window since it
 * registered counts, so a week-old node is measured on its week.
 */
export function expectedHeartbeats({
  registeredAtMs,
  nowMs,
  intervalSec = DEFAULT_HEARTBEAT_INTERVAL_SEC,
  windowSec = UPTIME_WINDOW_SEC,
}: {
  registeredAtMs: number;
  nowMs: number;
  intervalSec?: number;
  windowSec?: number;
}): number {
  if (!(intervalSec > 0)) throw new RangeError("intervalSec must be positive");
  const observedMs = Math.min(windowSec * 1000, Math.max(0, nowMs - registeredAtMs));
  return Math.floor(observedMs / (intervalSec * 1000));
}

function nonNegative(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

function clamp(n: number): number {
  return n < 0 ? 0 : n > 100 ? 100 : n;
}
