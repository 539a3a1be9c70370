/**
 * The offer query grammar, as on Vast: space-separated `field op value` terms, e.g.
 *   ram_gb>=32 vram_gb>=12 price<=0.000002 region=us-east-2 type=mist_node uptime>=95 distance<=100
 * Each term becomes a server-side filter where the API has one for exactly that comparison, and is
 * applied here otherwise; both kinds are reported (never silently dropped). An unknown field, an
 * operator the field cannot take, or a bad value is a usage error naming it.
 */
import { UsageError } from "./util.ts";

export type Op = "=" | "!=" | "<" | "<=" | ">" | ">=";

/** The row fields the filters read: present on marketplace offers and on matches alike. */
export interface Row {
  node_id: string;
  node_name: string;
  node_type: string;
  region: string;
  available_ram_gb: number;
  available_vram_gb: number;
  price_per_gb_sec: number;
  uptime_score: number;
  distance_km: number | null;
  estimated_latency_ms: number;
  match_score?: number;
  estimated_cost?: number;
}

type Kind = "int" | "number" | "string" | "enum" | "uuid";

interface FieldDef {
  row: keyof Row;
  kind: Kind;
  min?: number;
  max?: number;
  values?: readonly string[];
  /** Server parameter for a comparison, for GET /api/marketplace ("list") and the match request ("match"). */
  server?: Partial<Record<Op, { param: string; value?: (v: number | string) => number | string; on: Array<"list" | "match"> }>>;
  help: string;
}

export const NODE_TYPES = ["datacenter", "edge_cluster", "mist_node"] as const;

export const FIELDS: Record<string, FieldDef> = {
  ram_gb: {
    row: "available_ram_gb",
    kind: "int",
    min: 0,
    help: "free RAM on the node, GB",
    server: { ">=": { param: "min_ram_gb", on: ["list"] }, ">": { param: "min_ram_gb", value: (v) => Number(v) + 1, on: ["list"] } },
  },
  vram_gb: {
    row: "available_vram_gb",
    kind: "int",
    min: 0,
    help: "free VRAM on the node, GB",
    server: { ">=": { param: "min_vram_gb", on: ["list"] }, ">": { param: "min_vram_gb", value: (v) => Number(v) + 1, on: ["list"] } },
  },
  price: {
    row: "price_per_gb_sec",
    kind: "number",
    min: 0,
    max: 1,
    help: "USD per GB-second",
    server: { "<=": { param: "max_price_per_gb_sec", on: ["list", "match"] } },
  },
  region: {
    row: "region",
    kind: "string",
    help: "market region, e.g. eu-west",
    server: { "=": { param: "region", on: ["list", "match"] } },
  },
  type: {
    row: "node_type",
    kind: "enum",
    values: NODE_TYPES,
    help: NODE_TYPES.join(" | "),
    server: { "=": { param: "node_type", on: ["list"] } },
  },
  uptime: {
    row: "uptime_score",
    kind: "number",
    min: 0,
    max: 100,
    help: "uptime score, 0-100",
    server: { ">=": { param: "min_uptime_score", on: ["list", "match"] } },
  },
  distance: {
    row: "distance_km",
    kind: "number",
    min: 0,
    max: 40000,
    help: "km from you (needs your location: --lat/--lng or your profile)",
    server: { "<=": { param: "max_distance_km", on: ["list", "match"] } },
  },
  latency: { row: "estimated_latency_ms", kind: "number", min: 0, help: "estimated latency, ms" },
  name: { row: "node_name", kind: "string", help: "node name" },
  node_id: { row: "node_id", kind: "uuid", help: "node id" },
};

export interface Term {
  field: string;
  op: Op;
  value: number | string;
  text: string;
}

export interface CompiledQuery {
  terms: Term[];
  /** Query parameters (list) or body fields (match) the server applies. */
  server: Record<string, number | string>;
  /** Terms applied here, on what the server returned. */
  local: Term[];
  needsLocation: boolean;
}

const TERM = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(!=|<=|>=|==|=|<|>)\s*("[^"]*"|'[^']*'|[^\s"']+)/;

export function parseQuery(text: string): Term[] {
  const terms: Term[] = [];
  let rest = text.trim();
  while (rest.length > 0) {
    const m = TERM.exec(rest);
    if (!m) {
      const bad = rest.trim().split(/\s+/)[0];
      throw new UsageError(`Cannot read the query term "${bad}": write field op value, e.g. ram_gb>=32 (ops: = != < <= > >=).`);
    }
    const [whole, field, rawOp, rawValue] = m;
    const op = (rawOp === "==" ? "=" : rawOp) as Op;
    const def = FIELDS[field];
    if (!def) throw new UsageError(`Unknown query field "${field}". Fields: ${Object.keys(FIELDS).join(", ")}.`);
    const raw = rawValue.replace(/^(["'])(.*)\1$/, "$2");
    terms.push({ field, op, value: parseValue(field, def, op, raw), text: `${field}${op}${raw}` });
    rest = rest.slice(whole.length);
  }
  return terms;
}

function parseValue(field: string, def: FieldDef, op: Op, raw: string): number | string {
  if ((def.kind === "string" || def.kind === "enum" || def.kind === "uuid") && op !== "=" && op !== "!=") {
    throw new UsageError(`Query field "${field}" takes only = or !=, got "${field}${op}${raw}".`);
  }
  switch (def.kind) {
    case "int":
    case "number": {
      const n = Number(raw);
      if (raw === "" || !Number.isFinite(n) || (def.kind === "int" && !Number.isInteger(n))) {
        throw new UsageError(
          `Bad value for query field "${field}": "${raw}" is not ${def.kind === "int" ? "a whole number" : "a number"}.`,
        );
      }
      if ((def.min !== undefined && n < def.min) || (def.max !== undefined && n > def.max)) {
        throw new UsageError(`Bad value for query field "${field}": ${raw} is outside ${def.min ?? "-∞"}..${def.max ?? "∞"}.`);
      }
      return n;
    }
    case "enum":
      if (!def.values!.includes(raw))
        throw new UsageError(`Bad value for query field "${field}": "${raw}" (one of ${def.values!.join(", ")}).`);
      return raw;
    case "uuid":
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(raw))
        throw new UsageError(`Bad value for query field "${field}": "${raw}" is not a UUID.`);
      return raw.toLowerCase();
    default:
      if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(raw))
        throw new UsageError(`Bad value for query field "${field}": "${raw}" (letters, digits, . _ : - only, at most 64).`);
      return raw;
  }
}

/** Splits the terms between the server (list: GET /api/marketplace; match: the request body) and here. */
export function compileQuery(text: string, target: "list" | "match"): CompiledQuery {
  const terms = parseQuery(text);
  const server: Record<string, number | string> = {};
  const local: Term[] = [];
  let needsLocation = false;
  for (const t of terms) {
    const s = FIELDS[t.field].server?.[t.op];
    if (t.field === "distance") needsLocation = true;
    // A second term on the same parameter (ram_gb>=8 ram_gb>=16) is applied here: both still hold.
    if (s && s.on.includes(target) && !(s.param in server)) server[s.param] = s.value ? s.value(t.value) : t.value;
    else local.push(t);
  }
  return { terms, server, local, needsLocation };
}

function holds(actual: number | string | null | undefined, op: Op, want: number | string): boolean {
  if (actual === null || actual === undefined) return false; // unknown (e.g. distance without coordinates) never matches
  switch (op) {
    case "=":
      return actual === want;
    case "!=":
      return actual !== want;
    case "<":
      return actual < want;
    case "<=":
      return actual <= want;
    case ">":
      return actual > want;
    case ">=":
      return actual >= want;
  }
}

export function applyLocal<T extends Row>(rows: T[], terms: Term[]): T[] {
  return rows.filter((r) => terms.every((t) => holds(r[FIELDS[t.field].row] as number | string | null, t.op, t.value)));
}

export const SORT_FIELDS: Record<string, keyof Row> = {
  ...Object.fromEntries(Object.entries(FIELDS).map(([k, d]) => [k, d.row])),
  score: "match_score",
  cost: "estimated_cost",
};

/** `-o price` ascending, `-o ram_gb-` descending; nulls last either way. */
export function parseOrder(spec: string | undefined): { key: keyof Row; desc: boolean; text: string } | null {
  if (spec === undefined) return null;
  const desc = spec.endsWith("-");
  const name = desc ? spec.slice(0, -1) : spec.replace(/\+$/, "");
  const key = SORT_FIELDS[name];
  if (!key)
    throw new UsageError(`Unknown sort field "${name}" for -o. Fields: ${Object.keys(SORT_FIELDS).join(", ")} (append - for descending).`);
  return { key, desc, text: spec };
}

export function sortRows<T extends Row>(rows: T[], order: { key: keyof Row; desc: boolean } | null): T[] {
  if (!order) return rows;
  const dir = order.desc ? -1 : 1;
  return [...rows].sort((a, b) => {
    const x = a[order.key];
    const y = b[order.key];
    if (x === y) return 0;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * dir;
  });
}

export function fieldsHelp(): string {
  return Object.entries(FIELDS)
    .map(([k, d]) => `  ${k.padEnd(9)} ${d.help}`)
    .join("\n");
}
