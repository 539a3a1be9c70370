// The analytics and admin responses are only loosely specified in API.md, so these helpers read
// them defensively: find the list, flatten one level of nesting, pick the numeric fields.

export type Row = Record<string, unknown>;

const PREFERRED = ["regions", "series", "supply", "points", "data", "items", "by_region"];

export function findRows(res: unknown): Row[] {
  if (Array.isArray(res)) return res.filter((r) => r && typeof r === "object") as Row[];
  if (!res || typeof res !== "object") return [];
  const obj = res as Row;
  for (const k of PREFERRED) if (Array.isArray(obj[k])) return findRows(obj[k]);
  for (const v of Object.values(obj)) if (Array.isArray(v) && v.some((x) => x && typeof x === "object")) return findRows(v);
  // A map keyed by region: { "eu-west": {...}, ... }
  const entries = Object.entries(obj).filter(([, v]) => v && typeof v === "object" && !Array.isArray(v));
  if (entries.length && entries.length === Object.keys(obj).length) return entries.map(([k, v]) => ({ region: k, ...(v as Row) }));
  return [];
}

/** `{ram: {offered: 1}}` → `{"ram offered": 1}`; keeps top-level scalars. */
export function flatten(row: Row): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const [k, v] of Object.entries(row)) {
    if (typeof v === "number" || typeof v === "string") out[k] = v;
    else if (v && typeof v === "object" && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v as Row)) if (typeof v2 === "number") out[`${k} ${k2}`] = v2;
    }
  }
  return out;
}

export function numericKeys(rows: Record<string, number | string>[], exclude: RegExp = /^$/): string[] {
  const keys = new Set<string>();
  for (const r of rows) for (const [k, v] of Object.entries(r)) if (typeof v === "number" && !exclude.test(k)) keys.add(k);
  return [...keys];
}

export function labelOf(row: Record<string, number | string>): string {
  const l = row.region ?? row.name ?? row.label ?? row.node_name ?? row.node_id ?? row.t;
  return l === undefined ? "—" : String(l);
}

export function humanKey(k: string): string {
  return k
    .replace(/_per_gb_sec$/i, " ($/GB·s)")
    .replace(/_gb$/i, " (GB)")
    .replace(/_usd$/i, " (USD)")
    .replace(/_/g, " ")
    .replace(/\bv?ram\b/gi, (m) => m.toUpperCase())
    .replace(/^./, (c) => c.toUpperCase());
}
