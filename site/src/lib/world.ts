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

function ringsToPath(rings: Ring[]): string {
  let d = "";
  for (const ring of rings) {
    let prevLng: number | null = null;
    ring.forEach(([lng, lat], i) => {
      const [x, y] = project(lng, lat);
      // A jump across the antimeridian would draw a line across the whole map; start a new subpath.
      const move = i === 0 || (prevLng !== null && Math.abs(lng - prevLng) > 180);
      d += `${move ? "M" : "L"}${x.toFixed(1)},${y.toFixed(1)}`;
      prevLng = lng;
    });
    d += "Z";
  }
  return d;
}

function geometryRings(g: { type: string; coordinates: unknown }): Ring[] {
  if (g.type === "Polygon") return g.coordinates as Ring[];
  if (g.type === "MultiPolygon") return (g.coordinates as Ring[][]).flat();
  if (g.type === "MultiLineString") return g.coordinates as Ring[];
  if (g.type === "LineString") return [g.coordinates as Ring];
  return [];
}

export function landPath(): string {
  const land = feature(world, world.objects.land) as { features?: { geometry: { type: string; coordinates: unknown } }[]; geometry?: { type: string; coordinates: unknown } };
  const geoms = land.features ? land.features.map((f) => f.geometry) : land.geometry ? [land.geometry] : [];
  return geoms.map((g) => ringsToPath(geometryRings(g))).join("");
}

export function bordersPath(): string {
  const m = mesh(world, world.objects.countries, (a: unknown, b: unknown) => a !== b) as { type: string; coordinates: unknown };
  return geometryRings(m)
    .map((line) => {
      let d = "";
      let prevLng: number | null = null;
      line.forEach(([lng, lat], i) => {
        const [x, y] = project(lng, lat);
        const move = i === 0 || (prevLng !== null && Math.abs(lng - prevLng) > 180);
        d += `${move ? "M" : "L"}${x.toFixed(1)},${y.toFixed(1)}`;
        prevLng = lng;
      });
      return d;
    })
    .join("");
}
