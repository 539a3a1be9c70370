// Builds the world map's SVG paths at build time (Astro frontmatter), so the browser gets a few
// kilobytes of path data instead of the TopoJSON and a projection library. Equirectangular:
// x and y are longitude and latitude scaled, which is all markers sized by capacity need.
import { createRequire } from "node:module";
// @ts-expect-error topojson-client ships no types
import { feature, mesh } from "topojson-client";

const require = createRequire(import.meta.url);
const world = require("world-atlas/countries-110m.json");

export const MAP_W = 960;
export const MAP_H = 480;
/** Antarctica and the far north carry no nodes; cropping them gives the inhabited world more room. */
export const VIEW = { x: 0, y: 22, w: 960, h: 368 };

export function project(lng: number, lat: number): [number, number] {
  return [((lng + 180) / 360) * MAP_W, ((90 - lat) / 180) * MAP_H];
}

type Ring = [number, number][];

/**
 * Makes a ring's longitudes continuous (a ring crossing the antimeridian jumps from 180 to -180),
 * then returns it plus a copy shifted by 360° when it pokes past the map's edge. The SVG clips
 * both, so Chukotka and Fiji show up on the correct side instead of as a streak across the map.
 */
function unwrap(ring: Ring): Ring[] {
  const out: Ring = [];
  let offset = 0;
  let prev: number | null = null;
  for (const [lng, lat] of ring) {
    if (prev !== null) {
      const d = lng + offset - prev;
      if (d > 180) offset -= 360;
      else if (d < -180) offset += 360;
    }
    const x = lng + offset;
    out.push([x, lat]);
    prev = x;
  }
  const lngs = out.map(([x]) => x);
  const copies = [out];
  if (Math.min(...lngs) < -180) copies.push(out.map(([x, y]) => [x + 360, y] as [number, number]));
  if (Math.max(...lngs) > 180) copies.push(out.map(([x, y]) => [x - 360, y] as [number, number]));
  return copies;
}

function linePath(ring: Ring, close: boolean): string {
  let d = "";
  ring.forEach(([lng, lat], i) => {
    const [x, y] = project(lng, lat);
    d += `${i === 0 ? "M" : "L"}${x.toFixed(1)},${y.toFixed(1)}`;
  });
  return close ? `${d}Z` : d;
}

function ringsToPath(rings: Ring[], close = true): string {
  return rings
    .flatMap(unwrap)
    .map((r) => linePath(r, close))
    .join("");
}

function geometryRings(g: { type: string; coordinates: unknown }): Ring[] {
  if (g.type === "Polygon") return g.coordinates as Ring[];
  if (g.type === "MultiPolygon") return (g.coordinates as Ring[][]).flat();
  if (g.type === "MultiLineString") return g.coordinates as Ring[];
  if (g.type === "LineString") return [g.coordinates as Ring];
  return [];
}

export function landPath(): string {
  const land = feature(world, world.objects.land) as {
    features?: { geometry: { type: string; coordinates: unknown } }[];
    geometry?: { type: string; coordinates: unknown };
  };
  const geoms = land.features ? land.features.map((f) => f.geometry) : land.geometry ? [land.geometry] : [];
  return geoms.map((g) => ringsToPath(geometryRings(g))).join("");
}

export function bordersPath(): string {
  const m = mesh(world, world.objects.countries, (a: unknown, b: unknown) => a !== b) as { type: string; coordinates: unknown };
  return ringsToPath(geometryRings(m), false);
}
