/**
 * Egress measured in bytes by the node: bytes / 2^30 GB × the offer's micro-USD per GB, computed
 * exactly and rounded up to the micro-USD (the same rule as the renter-reported GB figure).
 */
export function egressCostMicroFromBytes(bytes: number, egressPriceMicro: number): number {
  if (!Number.isSafeInteger(bytes) || bytes < 0 || !Number.isSafeInteger(egressPriceMicro) || egressPriceMicro < 0) {
    throw new RangeError("egress bytes and price must be non-negative integers");
  }
  const scaled = BigInt(bytes) * BigInt(egressPriceMicro);
  const gb = 1n << 30n;
  return Number((scaled + gb - 1n) / gb);
}
