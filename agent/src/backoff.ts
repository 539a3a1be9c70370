const BACKOFF_BASE_SEC = 1;
const BACKOFF_CAP_SEC = 60;

/**
 * Exponential backoff with "equal jitter": half the step is fixed, so retries never bunch up at
 * zero, and half is random, so a fleet of agents that lost the API together does not come back
 * in lockstep.
 */
export function backoffSec(attempt: number, random: () => number = Math.random): number {
  const step = Math.min(BACKOFF_CAP_SEC, BACKOFF_BASE_SEC * 2 ** Math.max(0, attempt - 1));
  return step / 2 + random() * (step / 2);
}
