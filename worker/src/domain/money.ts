/**
 * Exact money. Inside the system every amount is an integer:
 * - amounts in micro-USD (1 USD = 1,000,000 micro),
 * - prices in nano-USD per GB-second (1 USD/GB-s = 1,000,000,000 nano).
 * JSON numbers are converted once, at the API edge, and rejected when they carry more decimals
 * than the unit can hold (6 for amounts, 9 for prices). Never add floats.
 *
 * Rounding rule (documented in the OpenAPI description):
 * - a contract's cost is GB × seconds × price, computed exactly in nano-USD and rounded UP to the
 *   next micro-USD (a renter is never charged for less than they held, and never more than
 *   a millionth of a dollar over the exact figure);
 * - the platform fee is cost × PLATFORM_FEE_PERCENT / 100 rounded half-up to the micro-USD; the
 *   provider earns cost − fee, so fee + earning = cost exactly.
 */

export const MICRO_PER_USD = 1_000_000;
export const NANO_PER_USD = 1_000_000_000;

function scaled(value: number, decimals: number): number | null {
  if (!Number.isFinite(value)) return null;
  const exact = value * 10 ** decimals;
  const n = Math.round(exact);
  // A JSON number like 0.0000008 is not exact in binary, so allow float noise (a few ulps), but a
  // remainder bigger than that means the value is finer than the unit: refuse it.
  if (Math.abs(exact - n) > Math.max(1e-9, Math.abs(exact) * 1e-12)) return null;
  if (!Number.isSafeInteger(n)) return null;
  return n;
}

/** USD (≤ 6 decimals) → micro-USD, or null when it has more precision than a micro. */
export function usdToMicro(usd: number): number | null {
  return scaled(usd, 6);
}

/** USD per GB-second (≤ 9 decimals) → nano-USD per GB-second, or null. */
export function priceToNano(price: number): number | null {
  return scaled(price, 9);
}

/** micro-USD → a JSON number whose shortest decimal form is exact (e.g. 1234567 → 1.234567). */
export function microToUsd(micro: number): number {
  return micro / MICRO_PER_USD;
}

export function nanoToPrice(nano: number): number {
  return nano / NANO_PER_USD;
}

/** Parses a decimal string ("5.0", "10", "2.25") into an integer scaled by 10^decimals, exactly. */
export function parseDecimal(text: string, decimals: number): number {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!m) throw new Error(`not a decimal: ${text}`);
  const frac = (m[2] ?? "").padEnd(decimals, "0");
  if (frac.length > decimals && /[1-9]/.test(frac.slice(decimals))) throw new Error(`too many decimals: ${text}`);
  return Number(m[1]) * 10 ** decimals + Number(frac.slice(0, decimals) || "0");
}

/** Ceiling division of non-negative bigints. */
function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}

/**
 * Cost in micro-USD of holding `gb` for `seconds` at `priceNano` per GB-second, rounded up to the
 * micro. BigInt inside: 1,000 GB × 86,400 s × a large price can pass 2^53 nano.
 */
export function costMicro(gb: number, seconds: number, priceNano: number): number {
  if (gb < 0 || seconds < 0 || priceNano < 0) throw new RangeError("cost inputs must be non-negative");
  const nano = BigInt(gb) * BigInt(seconds) * BigInt(priceNano);
  return Number(ceilDiv(nano, 1000n));
}

/** Egress cost in micro-USD: GB (a JSON number, up to 6 decimals) × micro-USD per GB, rounded up. */
export function egressCostMicro(egressGb: number, egressPriceMicro: number): number {
  const microGb = usdToMicro(egressGb); // same 6-decimal scaling, reused for GB
  if (microGb === null || microGb < 0) throw new RangeError("egress must be a non-negative number with at most 6 decimals");
  return Number(ceilDiv(BigInt(microGb) * BigInt(egressPriceMicro), 1_000_000n));
}

/** Splits a settled cost into the platform fee and the provider's earning (fee + earning = cost). */
export function splitFee(costMicroUsd: number, feePercent: string): { feeMicro: number; providerMicro: number } {
  const basisPoints = BigInt(parseDecimal(feePercent, 4)); // percent with 4 decimals → 1e-6 of a unit
  const scaledFee = BigInt(costMicroUsd) * basisPoints; // cost × percent × 10^4
  const denominator = 100n * 10_000n;
  const fee = Number((scaledFee * 2n + denominator) / (2n * denominator)); // half-up
  return { feeMicro: fee, providerMicro: costMicroUsd - fee };
}

/**
 * Seconds billed for a term that ran from `startMs` to `endMs`: every started second counts, at
 * least `minDurationSec`, at most `maxBillableSec` (the term that was bought).
 */
export function billableSeconds(startMs: number, endMs: number, minDurationSec: number, maxBillableSec: number): number {
  const held = Math.max(0, Math.ceil((endMs - startMs) / 1000));
  return Math.min(maxBillableSec, Math.max(minDurationSec, held));
}
