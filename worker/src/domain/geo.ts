/**
 * Distances on the globe and the grid the region's node index is bucketed on. Pure functions.
 *
 * Distances are great-circle (haversine) on a sphere of radius 6371 km, the mean Earth radius the
 * API contract names. Over the distances the marketplace cares about (a renter looking for memory
 * within a few hundred km) the sphere is within ~0.5 % of the ellipsoid, far below anything a
 * latency estimate could tell apart.
 */

export const EARTH_RADIUS_KM = 6371;

const DEG = Math.PI / 180;

/** Great-circle distance in km between two points given in degrees. */
export function haversineKm(lat1: number, lng1: number, lat2: number, lng2: number): number {
  const dLat = (lat2 - lat1) * DEG;
  const dLng = (lng2 - lng1) * DEG;
  const s = Math.sin(dLat / 2);
  const t = Math.sin(dLng / 2);
  const a = s * s + Math.cos(lat1 * DEG) * Math.cos(lat2 * DEG) * t * t;
  // min() because rounding can push `a` a hair over 1 for near-antipodal points, and asin(>1) is NaN.
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** Longitude folded into [-180, 180): 180 and -180 are the same meridian, and so are 190 and -170. */
export function normalizeLng(lng: number): number {
  const folded = ((((lng + 180) % 360) + 360) % 360) - 180;
  return folded === 180 ? -180 : folded;
}

// ---------------------------------------------------------------------------------------------
// Fixed lat/lng grid. Row 0 starts at the south pole, column 0 at the antimeridian (-180°).
// A fixed grid (rather than a tree) makes an upsert O(1) with no rebalancing, which matters because
// every heartbeat may move a mist node a little.
// ---------------------------------------------------------------------------------------------

export interface GridShape {
  cellDeg: number;
  rows: number;
  cols: number;
}

export function gridShape(cellDeg: number): GridShape {
  if (!(cellDeg > 0 && cellDeg <= 180)) throw new RangeError("cellDeg must be in (0, 180]");
  return { cellDeg, rows: Math.ceil(180 / cellDeg), cols: Math.ceil(360 / cellDeg) };
}

export function gridRow(shape: GridShape, lat: number): number {
  const row = Math.floor((lat + 90) / shape.cellDeg);
  // The north pole (lat 90) would be one row past the top; it belongs to the top row.
  return row < 0 ? 0 : row >= shape.rows ? shape.rows - 1 : row;
}

export function gridCol(shape: GridShape, lng: number): number {
  const col = Math.floor((normalizeLng(lng) + 180) / shape.cellDeg);
  return col >= shape.cols ? shape.cols - 1 : col;
}

/** One integer per cell, so the index can key a Map by number instead of by string. */
export function gridCellKey(shape: GridShape, lat: number, lng: number): number {
  return gridRow(shape, lat) * shape.cols + gridCol(shape, lng);
}

/** The cells overlapping a circle: rows `row0..row1`, and in each row the column spans listed. */
export interface GridCover {
  row0: number;
  row1: number;
  /** Inclusive column spans; two when the circle straddles the antimeridian. */
  colSpans: Array<[number, number]>;
  /** Number of cells the cover names. */
  cellCount: number;
}

/**
 * Cells that may hold a point within `radiusKm` of (lat, lng). Never misses one: it is the bounding
 * box of the spherical cap (J. Matuschek, "Finding Points Within a Distance of a Latitude/Longitude
 * Using Bounding Coordinates"), widened by a hair so a point at exactly the radius is not lost to
 * float rounding. When the cap contains a pole, every longitude is in (the box spans the whole
 * ring of cells at those latitudes); across the antimeridian the columns wrap into two spans.
 */
export function gridCover(shape: GridShape, lat: number, lng: number, radiusKm: number): GridCover {
  const r = Math.max(0, radiusKm);
  const angular = (r / EARTH_RADIUS_KM) * (1 + 1e-9) + 1e-12;
  const latRad = lat * DEG;
  const minLat = latRad - angular;
  const maxLat = latRad + angular;
  const slack = 1e-9; // degrees, the same float-rounding margin on the box edges

  const row0 = gridRow(shape, Math.max(-90, minLat / DEG - slack));
  const row1 = gridRow(shape, Math.min(90, maxLat / DEG + slack));
  const rows = row1 - row0 + 1;
  const everyCol: Array<[number, number]> = [[0, shape.cols - 1]];

  const poleInside = maxLat >= Math.PI / 2 || minLat <= -Math.PI / 2;
  const sinRatio = poleInside ? 2 : Math.sin(angular) / Math.cos(latRad);
  if (sinRatio >= 1) return { row0, row1, colSpans: everyCol, cellCount: rows * shape.cols };

  const halfWidth = Math.asin(sinRatio) / DEG + slack;
  if (2 * halfWidth + shape.cellDeg >= 360) return { row0, row1, colSpans: everyCol, cellCount: rows * shape.cols };
  const col0 = gridCol(shape, lng - halfWidth);
  const col1 = gridCol(shape, lng + halfWidth);
  const colSpans: Array<[number, number]> =
    col0 <= col1
      ? [[col0, col1]]
      : [
          [col0, shape.cols - 1],
          [0, col1],
        ];
  const cols = colSpans.reduce((n, [a, b]) => n + b - a + 1, 0);
  return { row0, row1, colSpans, cellCount: rows * cols };
}

/** Whether a cell key lies in a cover (used when scanning occupied cells is cheaper than the cover). */
export function coverHasCell(shape: GridShape, cover: GridCover, key: number): boolean {
  const row = Math.floor(key / shape.cols);
  if (row < cover.row0 || row > cover.row1) return false;
  const col = key - row * shape.cols;
  for (const [a, b] of cover.colSpans) if (col >= a && col <= b) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Geohash: the standard base-32 interleaved code. Used to name cells when a region grows past what
// one Durable Object serves and is split by geohash prefix (see ARCHITECTURE.md, "Scale").
// ---------------------------------------------------------------------------------------------

const GEOHASH_ALPHABET = "0123456789bcdefghjkmnpqrstuvwxyz";

export function geohashEncode(lat: number, lng: number, precision = 6): string {
  if (!Number.isInteger(precision) || precision < 1 || precision > 12) throw new RangeError("precision must be 1..12");
  let latLo = -90,
    latHi = 90,
    lngLo = -180,
    lngHi = 180;
  let hash = "";
  let bits = 0,
    value = 0,
    evenBit = true; // even bits split longitude, odd bits latitude
  while (hash.length < precision) {
    if (evenBit) {
      const mid = (lngLo + lngHi) / 2;
      if (lng >= mid) {
        value = value * 2 + 1;
        lngLo = mid;
      } else {
        value *= 2;
        lngHi = mid;
      }
    } else {
      const mid = (latLo + latHi) / 2;
      if (lat >= mid) {
        value = value * 2 + 1;
        latLo = mid;
      } else {
        value *= 2;
        latHi = mid;
      }
    }
    evenBit = !evenBit;
    if (++bits === 5) {
      hash += GEOHASH_ALPHABET[value];
      bits = 0;
      value = 0;
    }
  }
  return hash;
}

export interface LatLngBounds {
  minLat: number;
  maxLat: number;
  minLng: number;
  maxLng: number;
}

export function geohashBounds(hash: string): LatLngBounds {
  let latLo = -90,
    latHi = 90,
    lngLo = -180,
    lngHi = 180;
  let evenBit = true;
  for (const ch of hash.toLowerCase()) {
    const value = GEOHASH_ALPHABET.indexOf(ch);
    if (value < 0) throw new RangeError(`not a geohash character: ${ch}`);
    for (let bit = 4; bit >= 0; bit--) {
      const on = ((value >> bit) & 1) === 1;
      if (evenBit) {
        const mid = (lngLo + lngHi) / 2;
        if (on) lngLo = mid;
        else lngHi = mid;
      } else {
        const mid = (latLo + latHi) / 2;
        if (on) latLo = mid;
        else latHi = mid;
      }
      evenBit = !evenBit;
    }
  }
  return { minLat: latLo, maxLat: latHi, minLng: lngLo, maxLng: lngHi };
}
