/**
 * The clusters table (one row per region, made by the region's first node). Imports only db/schema
 * and domain/ (lib/ imports db/schema, so nothing here may import lib/ at run time).
 */

/** Whether a region exists (has had a node); an invented name is not one. */
export async function regionExists(d1: D1Database, region: string): Promise<boolean> {
  return (await d1.prepare(`SELECT 1 AS x FROM clusters WHERE region = ?`).bind(region).first()) !== null;
}

/** Every region's name, in order. */
export async function regionNames(d1: D1Database): Promise<string[]> {
  const r = await d1.prepare(`SELECT region FROM clusters ORDER BY region`).all<{ region: string }>();
  return r.results.map((x) => x.region);
}

/** The centre stored for a region when it was made; null when unset or no such region. */
export async function storedCenterOf(d1: D1Database, region: string): Promise<{ lat: number; lng: number } | null> {
  const row = await d1
    .prepare(`SELECT center_lat, center_lng FROM clusters WHERE region = ?`)
    .bind(region)
    .first<{ center_lat: number | null; center_lng: number | null }>();
  return row?.center_lat != null && row.center_lng != null ? { lat: row.center_lat, lng: row.center_lng } : null;
}
