/**
 * The contract terms a node offers when its provider set none (the same defaults as the offers
 * table and the registration schema): from one minute to one day.
 */
export const DEFAULT_MIN_DURATION_SEC = 60;
export const DEFAULT_MAX_DURATION_SEC = 86_400;

/** The shortest and longest contract a node takes; a node without an offer row takes the defaults. */
export function durationBounds(offer: { minDurationSec: number; maxDurationSec: number } | null | undefined): { min: number; max: number } {
  return { min: offer?.minDurationSec ?? DEFAULT_MIN_DURATION_SEC, max: offer?.maxDurationSec ?? DEFAULT_MAX_DURATION_SEC };
}
