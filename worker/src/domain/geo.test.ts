import { describe, expect, it } from "vitest";
import { mulberry32 } from "../../test/prng";
import {
  EARTH_RADIUS_KM,
  coverHasCell,
  geohashBounds,
  geohashEncode,
  gridCellKey,
  gridCol,
  gridCover,
  gridRow,
  gridShape,
  haversineKm,
  normalizeLng,
} from "./geo";

// One degree of arc on a sphere of R = 6371 km: 6371 × π / 180.
const ONE_DEGREE_KM = 111.19492664455873;

describe("haversineKm", () => {
  it("is zero for the same point", () => {
    expect(haversineKm(48.85, 2.35, 48.85, 2.35)).toBe(0);
  });

  it("measures one degree along a meridian and along the equator as R·π/180", () => {
    expect(haversineKm(0, 0, 1, 0)).toBeCloseTo(ONE_DEGREE_KM, 9);
    expect(haversineKm(0, 0, 0, 1)).toBeCloseTo(ONE_DEGREE_KM, 9);
  });

  it("measures a quarter and half of a great circle", () => {
    expect(haversineKm(0, 0, 0, 90)).toBeCloseTo((Math.PI * EARTH_RADIUS_KM) / 2, 9); // 10007.543398010286
    expect(haversineKm(90, 0, 0, 0)).toBeCloseTo(10007.543398010286, 9);
    expect(haversineKm(0, 0, 0, 180)).toBeCloseTo(20015.086796020572, 9); // antipodes: π·R
    expect(haversineKm(45, 10, -45, -170)).toBeCloseTo(20015.086796020572, 6);
  });

  it("agrees with the spherical law of cosines on real cities", () => {
    // London–Paris and Sydney–San Francisco, by acos(sin φ1 sin φ2 + cos φ1 cos φ2 cos Δλ) × 6371.
    expect(haversineKm(51.5074, -0.1278, 48.8566, 2.3522)).toBeCloseTo(343.556060341059, 6);
    expect(haversineKm(-33.8688, 151.2093, 37.7749, -122.4194)).toBeCloseTo(11947.660518547895, 6);
  });

  it("is symmetric and short across the antimeridian", () => {
    expect(haversineKm(0, 179.5, 0, -179.5)).toBeCloseTo(ONE_DEGREE_KM, 9);
    expect(haversineKm(10, -179.5, 10, 179.5)).toBe(haversineKm(10, 179.5, 10, -179.5));
  });

  it("goes over the pole: 89.9°N 0° to 89.5°N 180° is 0.6° of arc", () => {
    expect(haversineKm(89.9, 0, 89.5, 180)).toBeCloseTo(0.6 * ONE_DEGREE_KM, 6);
  });
});

describe("normalizeLng", () => {
  it("folds into [-180, 180)", () => {
    expect(normalizeLng(0)).toBe(0);
    expect(normalizeLng(180)).toBe(-180);
    expect(normalizeLng(-180)).toBe(-180);
    expect(normalizeLng(190)).toBe(-170);
    expect(normalizeLng(-190)).toBe(170);
    expect(normalizeLng(540)).toBe(-180);
  });
});

describe("grid", () => {
  const shape = gridShape(0.5);

  it("has 360 rows and 720 columns at half a degree", () => {
    expect(shape).toEqual({ cellDeg: 0.5, rows: 360, cols: 720 });
    expect(() => gridShape(0)).toThrow(RangeError);
  });

  it("puts the poles and the antimeridian in real cells", () => {
    expect(gridRow(shape, -90)).toBe(0);
    expect(gridRow(shape, 90)).toBe(359);
    expect(gridCol(shape, -180)).toBe(0);
    expect(gridCol(shape, 180)).toBe(0);
    expect(gridCol(shape, 179.99)).toBe(719);
    expect(gridCellKey(shape, 0.25, 0.25)).toBe(180 * 720 + 360);
  });

  it("covers a small circle with a few cells", () => {
    // 50 km at 45°N: ±0.4497° of latitude (44.55..45.45 → rows 269..270) and
    // ±asin(sin(50/6371) / cos 45°) = ±0.636° of longitude (columns 358..361).
    const cover = gridCover(shape, 45, 0, 50);
    expect(cover.row0).toBe(269);
    expect(cover.row1).toBe(270);
    expect(cover.colSpans).toEqual([[358, 361]]);
    expect(cover.cellCount).toBe(2 * 4);
  });

  it("wraps across the antimeridian into two column spans", () => {
    const cover = gridCover(shape, 0, 179.9, 100);
    // ±0.899° around 179.9°E: 179.0°E .. 179.2°W → columns 718..719 and 0..1.
    expect(cover.colSpans).toEqual([
      [718, 719],
      [0, 1],
    ]);
    expect(coverHasCell(shape, cover, gridCellKey(shape, 0, -179.5))).toBe(true);
    expect(coverHasCell(shape, cover, gridCellKey(shape, 0, 170))).toBe(false);
  });

  it("takes every longitude once the circle contains a pole", () => {
    const cover = gridCover(shape, 89.5, 10, 100);
    expect(cover.colSpans).toEqual([[0, 719]]);
    expect(cover.row1).toBe(359);
    expect(coverHasCell(shape, cover, gridCellKey(shape, 89.9, -170))).toBe(true);
  });

  it("takes the whole globe for a radius of half the circumference", () => {
    const cover = gridCover(shape, 10, 10, 20016);
    expect(cover.cellCount).toBe(360 * 720);
  });

  it("never misses a point at exactly the radius", () => {
    const rnd = mulberry32(7);
    for (let i = 0; i < 2000; i++) {
      const lat = rnd() * 180 - 90,
        lng = rnd() * 360 - 180;
      const lat2 = Math.max(-90, Math.min(90, lat + (rnd() - 0.5) * 20)),
        lng2 = lng + (rnd() - 0.5) * 40;
      const d = haversineKm(lat, lng, lat2, lng2);
      const cover = gridCover(shape, lat, lng, d);
      expect(coverHasCell(shape, cover, gridCellKey(shape, lat2, lng2))).toBe(true);
    }
  });
});

describe("geohash", () => {
  it("encodes the textbook examples", () => {
    expect(geohashEncode(57.64911, 10.40744, 11)).toBe("u4pruydqqvj");
    expect(geohashEncode(42.6, -5.6, 5)).toBe("ezs42");
  });

  it("decodes to a box holding the point", () => {
    const b = geohashBounds("ezs42");
    expect(b.minLat).toBeLessThanOrEqual(42.6);
    expect(b.maxLat).toBeGreaterThanOrEqual(42.6);
    expect(b.minLng).toBeLessThanOrEqual(-5.6);
    expect(b.maxLng).toBeGreaterThanOrEqual(-5.6);
    // Five characters: 25 bits, 13 for longitude (360/2^13) and 12 for latitude (180/2^12).
    expect(b.maxLng - b.minLng).toBeCloseTo(360 / 8192, 12);
    expect(b.maxLat - b.minLat).toBeCloseTo(180 / 4096, 12);
    expect(() => geohashBounds("a")).toThrow(RangeError);
  });
});
