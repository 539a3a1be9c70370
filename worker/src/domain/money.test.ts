import { describe, expect, it } from "vitest";
import { billableSeconds, costMicro, egressCostMicro, microToUsd, parseDecimal, priceToNano, splitFee, usdToMicro } from "./money";

describe("costMicro", () => {
  it("rounds up to the next micro-USD", () => {
    expect(costMicro(1, 1, 1)).toBe(1); // 1 nano = 0.001 micro → 1
    expect(costMicro(1, 1000, 1)).toBe(1); // exactly 1 micro
    expect(costMicro(1, 1001, 1)).toBe(2); // 1.001 micro → 2
    expect(costMicro(6, 3600, 800)).toBe(17_280); // 17,280,000 nano, exact
    expect(costMicro(3, 7, 333)).toBe(7); // 6,993 nano = 6.993 micro → 7
    expect(costMicro(0, 3600, 800)).toBe(0);
  });

  it("stays exact past 2^53 nano", () => {
    // 1000 GB × 86,400 s × 1 USD/GB-s = 8.64e16 nano (> 2^53 ≈ 9.007e15) = 86,400,000 USD.
    expect(costMicro(1000, 86_400, 1_000_000_000)).toBe(86_400_000_000_000);
    expect(costMicro(1000, 86_400, 1_000_000_001)).toBe(86_400_000_086_400);
  });

  it("rejects negative inputs", () => {
    expect(() => costMicro(-1, 1, 1)).toThrow(RangeError);
    expect(() => costMicro(1, -1, 1)).toThrow(RangeError);
    expect(() => costMicro(1, 1, -1)).toThrow(RangeError);
  });
});

describe("splitFee", () => {
  it("rounds the fee half up", () => {
    expect(splitFee(100, "5.0")).toEqual({ feeMicro: 5, providerMicro: 95 });
    expect(splitFee(10, "5.0")).toEqual({ feeMicro: 1, providerMicro: 9 }); // 0.5 → 1
    expect(splitFee(9, "5.0")).toEqual({ feeMicro: 0, providerMicro: 9 }); // 0.45 → 0
    expect(splitFee(30, "5.0")).toEqual({ feeMicro: 2, providerMicro: 28 }); // 1.5 → 2
    expect(splitFee(1_000_000, "2.5")).toEqual({ feeMicro: 25_000, providerMicro: 975_000 });
    expect(splitFee(7, "12.3456")).toEqual({ feeMicro: 1, providerMicro: 6 }); // 0.864192 → 1
    expect(splitFee(0, "5.0")).toEqual({ feeMicro: 0, providerMicro: 0 });
  });

  it("always adds back up to the cost", () => {
    for (const fee of ["0", "5.0", "5", "7.25", "33.3333", "100"]) {
      for (let cost = 0; cost < 2000; cost += 37) {
        const { feeMicro, providerMicro } = splitFee(cost, fee);
        expect(feeMicro + providerMicro).toBe(cost);
        expect(feeMicro).toBeGreaterThanOrEqual(0);
      }
    }
    expect(splitFee(123_456_789, "100")).toEqual({ feeMicro: 123_456_789, providerMicro: 0 });
  });
});

describe("usdToMicro / priceToNano", () => {
  it("accepts up to 6 decimals of USD and rejects a 7th", () => {
    expect(usdToMicro(1.234567)).toBe(1_234_567);
    expect(usdToMicro(0.000001)).toBe(1);
    expect(usdToMicro(10)).toBe(10_000_000);
    expect(usdToMicro(0.1234567)).toBeNull();
    expect(usdToMicro(0.0000001)).toBeNull();
    expect(usdToMicro(Number.NaN)).toBeNull();
    expect(usdToMicro(Number.POSITIVE_INFINITY)).toBeNull();
  });

  it("rejects a 7th decimal on large amounts too, where float noise is bigger", () => {
    expect(usdToMicro(1.2345678)).toBeNull();
    expect(usdToMicro(12.3456789)).toBeNull();
    expect(usdToMicro(123_456.789012)).toBe(123_456_789_012);
    expect(usdToMicro(123_456.7890123)).toBeNull();
    expect(priceToNano(0.0012345678)).toBeNull(); // 10 decimals
    expect(priceToNano(1.234567891)).toBe(1_234_567_891);
  });

  it("converts prices to nano-USD per GB-second", () => {
    expect(priceToNano(0.0000008)).toBe(800);
    expect(priceToNano(0.000000001)).toBe(1);
    expect(priceToNano(0.0000000001)).toBeNull();
    expect(priceToNano(1)).toBe(1_000_000_000);
  });

  it("turns micro-USD back into exact short decimals", () => {
    expect(microToUsd(1_234_567)).toBe(1.234567);
    expect(microToUsd(100)).toBe(0.0001);
  });

  it("parses decimal strings exactly", () => {
    expect(parseDecimal("5.0", 4)).toBe(50_000);
    expect(parseDecimal("2.25", 6)).toBe(2_250_000);
    expect(parseDecimal("10", 2)).toBe(1000);
    expect(parseDecimal("1.50", 1)).toBe(15); // trailing zeros beyond the scale are fine
    expect(() => parseDecimal("1.55", 1)).toThrow();
    expect(() => parseDecimal("-1", 2)).toThrow();
    expect(() => parseDecimal("abc", 2)).toThrow();
  });

  it("prices egress per GB, rounding up", () => {
    expect(egressCostMicro(1.5, 90_000)).toBe(135_000);
    expect(egressCostMicro(0.000001, 1)).toBe(1); // 1e-6 micro → 1
    expect(() => egressCostMicro(0.0000001, 1)).toThrow(RangeError);
  });
});

describe("billableSeconds", () => {
  it("bills the minimum duration for a short term", () => {
    expect(billableSeconds(0, 1, 60, 86_400)).toBe(60);
    expect(billableSeconds(0, 0, 60, 86_400)).toBe(60);
    expect(billableSeconds(5_000, 1_000, 60, 86_400)).toBe(60); // clock skew: never negative
  });

  it("bills every started second", () => {
    expect(billableSeconds(0, 60_000, 60, 86_400)).toBe(60);
    expect(billableSeconds(0, 60_001, 60, 86_400)).toBe(61);
    expect(billableSeconds(1_000, 3_601_500, 60, 86_400)).toBe(3601);
  });

  it("never bills past the term that was bought", () => {
    expect(billableSeconds(0, 100_000_000, 60, 3600)).toBe(3600);
  });
});
