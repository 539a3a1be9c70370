/** mnemo offers search / match / rent. */
import { ApiError, type Contract, type Lease, type Match, type Offer } from "../client/index.ts";
import type { Ctx } from "./context.ts";
import { applyLocal, compileQuery, parseOrder, sortRows, type CompiledQuery } from "./query.ts";
import {
  err,
  formatDuration,
  out,
  parseDuration,
  parseLimit,
  parseNumber,
  parseWholeNumber,
  printJson,
  Progress,
  sleep,
  table,
  UsageError,
  usd,
} from "./util.ts";

export interface LocationFlags {
  lat?: string;
  lng?: string;
}

/** --lat/--lng, else the profile's: a distance filter without a location would silently match nothing or everything. */
async function location(ctx: Ctx, q: CompiledQuery, flags: LocationFlags): Promise<{ lat: number; lng: number } | null> {
  const lat = parseNumber(flags.lat, "--lat");
  const lng = parseNumber(flags.lng, "--lng");
  if ((lat === undefined) !== (lng === undefined)) throw new UsageError("--lat and --lng go together.");
  if (lat !== undefined && (lat < -90 || lat > 90)) throw new UsageError(`--lat must be within -90..90, got ${lat}.`);
  if (lng !== undefined && (lng < -180 || lng > 180)) throw new UsageError(`--lng must be within -180..180, got ${lng}.`);
  if (lat !== undefined && lng !== undefined) return { lat, lng };
  if (!q.needsLocation) return null;
  if (ctx.token) {
    const me = await ctx.call(ctx.api.GET("/api/auth/me"));
    if (me.client?.latitude != null && me.client?.longitude != null) return { lat: me.client.latitude, lng: me.client.longitude };
  }
  throw new UsageError('The query field "distance" needs your location: pass --lat and --lng (or set latitude/longitude in your profile).');
}

function describeFilters(q: CompiledQuery): string[] {
  const lines: string[] = [];
  if (Object.keys(q.server).length)
    lines.push(
      `Filters sent to the API: ${Object.entries(q.server)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ")}`,
    );
  if (q.local.length) lines.push(`Filters applied here (the API has no such filter): ${q.local.map((t) => t.text).join(" ")}`);
  return lines;
}

function filtersJson(q: CompiledQuery) {
  return { server: q.server, local: q.local.map((t) => t.text) };
}

export async function offersSearch(ctx: Ctx, query: string, flags: LocationFlags & { o?: string; limit?: string }): Promise<number> {
  const q = compileQuery(query, "list");
  const order = parseOrder(flags.o);
  const limit = parseLimit(flags.limit, 20);
  const loc = await location(ctx, q, flags);
  // Filtering or sorting here needs the whole candidate list, not the server's first page.
  const fetchLimit = q.local.length || order ? 500 : limit;
  const page = await ctx.call(
    ctx.api.GET("/api/marketplace", {
      params: {
        query: { ...(q.server as Record<string, never>), ...(loc ? { client_lat: loc.lat, client_lng: loc.lng } : {}), limit: fetchLimit },
      },
    }),
  );
  const rows = sortRows(applyLocal(page.offers, q.local), order).slice(0, limit);
  if (ctx.json) {
    printJson({ offers: rows, total_count: page.total_count, filters: filtersJson(q), order: order?.text ?? null });
    return 0;
  }
  for (const l of describeFilters(q)) err(l);
  if (!rows.length) {
    out("No offers match.");
    return 0;
  }
  out(offerTable(rows));
  err(`${rows.length} shown, ${page.total_count} offered by the API before local filters.`);
  return 0;
}

function offerTable(rows: Offer[]): string {
  return table(
    ["NODE", "NAME", "TYPE", "REGION", "RAM_GB", "VRAM_GB", "USD/GB-S", "UPTIME", "KM", "MS"],
    rows.map((o) => [
      o.node_id,
      o.node_name,
      o.node_type,
      o.region,
      o.available_ram_gb,
      o.available_vram_gb,
      o.price_per_gb_sec,
      o.uptime_score,
      o.distance_km === null ? null : Math.round(o.distance_km),
      o.estimated_latency_ms,
    ]),
  );
}

export interface MatchFlags extends LocationFlags {
  ram?: string;
  vram?: string;
  duration?: string;
  limit?: string;
  o?: string;
}

interface MatchOutcome {
  matches: Match[];
  total_candidates: number;
  request_id: string;
  q: CompiledQuery;
  body: { ram_gb: number; vram_gb: number; duration_sec: number };
}

async function findMatches(ctx: Ctx, query: string, flags: MatchFlags, defaultLimit: number, progress?: Progress): Promise<MatchOutcome> {
  const q = compileQuery(query, "match");
  const order = parseOrder(flags.o);
  const ram = parseWholeNumber(flags.ram, "--ram");
  if (ram === undefined) throw new UsageError("--ram is required (GB; 0 for VRAM only).");
  const vram = parseWholeNumber(flags.vram, "--vram") ?? 0;
  if (ram + vram <= 0) throw new UsageError("Ask for some memory: --ram plus --vram must be more than 0.");
  const duration = parseDuration(flags.duration, "--duration");
  const limit = parseLimit(flags.limit, defaultLimit, 100);
  ctx.requireToken();
  const loc = await location(ctx, q, flags);
  progress?.update("Finding the best nodes...");
  const body = { ram_gb: ram, vram_gb: vram, duration_sec: duration };
  const res = await ctx.call(
    ctx.api.POST("/api/marketplace/request", {
      body: {
        ...body,
        ...(q.server as Record<string, never>),
        ...(loc ? { client_lat: loc.lat, client_lng: loc.lng } : {}),
        limit: q.local.length ? 100 : limit,
      },
    }),
  );
  const matches = sortRows(applyLocal(res.matches, q.local), order).slice(0, limit);
  return { matches, total_candidates: res.total_candidates, request_id: res.request_id, q, body };
}

export async function match(ctx: Ctx, query: string, flags: MatchFlags): Promise<number> {
  const m = await findMatches(ctx, query, flags, 10);
  if (ctx.json) {
    printJson({ request_id: m.request_id, matches: m.matches, total_candidates: m.total_candidates, filters: filtersJson(m.q) });
    return 0;
  }
  for (const l of describeFilters(m.q)) err(l);
  if (!m.matches.length) {
    out(
      `No node can hold ${m.body.ram_gb} GB RAM + ${m.body.vram_gb} GB VRAM for ${formatDuration(m.body.duration_sec)} with these filters.`,
    );
    return 0;
  }
  out(
    table(
      [
        "#",
        "SCORE",
        "NODE",
        "NAME",
        "TYPE",
        "REGION",
        "USD/GB-S",
        "EST_COST",
        "KM",
        "PROXIMITY",
        "PRICE",
        "RELIABILITY",
        "CAPACITY",
        "NODE_TYPE",
      ],
      m.matches.map((x, i) => [
        i + 1,
        x.match_score,
        x.node_id,
        x.node_name,
        x.node_type,
        x.region,
        x.price_per_gb_sec,
        usd(x.estimated_cost),
        x.distance_km === null ? null : Math.round(x.distance_km),
        x.score_breakdown.proximity,
        x.score_breakdown.price,
        x.score_breakdown.reliability,
        x.score_breakdown.capacity,
        x.score_breakdown.node_type,
      ]),
    ),
  );
  err(
    `${m.matches.length} of ${m.total_candidates} candidates. Rent the first with: mnemo rent ${query ? `'${query}' ` : ""}--ram ${m.body.ram_gb}${m.body.vram_gb ? ` --vram ${m.body.vram_gb}` : ""} --duration ${formatDuration(m.body.duration_sec)}`,
  );
  return 0;
}

const ENDED = new Set(["completed", "failed", "cancelled"]);

/**
 * Follows a contract until the node serves it. Polling GET /api/contracts/{id} works with every
 * version of the worker: activation by the node's heartbeat (older workers) or by its `ready`
 * call (the data plane); a failover moves the wait to the replacement contract.
 */
export async function waitActive(ctx: Ctx, contractId: string, waitSec: number, progress: Progress): Promise<Contract> {
  const t0 = Date.now();
  let id = contractId;
  let delay = 250;
  for (;;) {
    const { contract } = await ctx.call(ctx.api.GET("/api/contracts/{id}", { params: { path: { id } } }));
    if (contract.status === "active") return contract;
    if (contract.failed_over_to) {
      progress.done(`Contract ${id} was failed over to ${contract.failed_over_to}; following it.`);
      id = contract.failed_over_to;
      continue;
    }
    if (ENDED.has(contract.status))
      throw new RentFailed(
        `Contract ${id} ended ${contract.status} before the node started it${contract.end_reason ? ` (${contract.end_reason})` : ""}; nothing was charged for it.`,
      );
    const elapsed = Math.round((Date.now() - t0) / 1000);
    if (elapsed >= waitSec) {
      progress.done();
      // Never leave a pending hold behind a renter who has given up waiting.
      try {
        await ctx.call(ctx.api.POST("/api/contracts/{id}/cancel", { params: { path: { id } } }));
        throw new RentFailed(
          `The node did not start contract ${id} within ${formatDuration(waitSec)}; it was cancelled and nothing was charged.`,
        );
      } catch (e) {
        if (e instanceof RentFailed) throw e;
        throw new RentFailed(
          `The node did not start contract ${id} within ${formatDuration(waitSec)}, and cancelling it failed: ${(e as Error).message}`,
        );
      }
    }
    progress.update(`Waiting for the node to start contract ${id} (${contract.status}, ${elapsed}s)...`);
    await sleep(delay);
    delay = Math.min(1000, delay * 2);
  }
}

/** The rent could not be completed (the API did not refuse a call, but the outcome is a failure): exit 1. */
export class RentFailed extends Error {
  override name = "RentFailed";
}

export async function rent(ctx: Ctx, query: string, flags: MatchFlags & { "auto-renew"?: boolean; wait?: string }): Promise<number> {
  const waitSec = flags.wait === undefined ? 180 : parseDuration(flags.wait, "--wait");
  const progress = new Progress();
  const m = await findMatches(ctx, query, flags, 5, progress);
  for (const l of describeFilters(m.q)) err(l);
  if (!m.matches.length) {
    progress.done();
    throw new RentFailed(
      `No node can hold ${m.body.ram_gb} GB RAM + ${m.body.vram_gb} GB VRAM for ${formatDuration(m.body.duration_sec)} with these filters (mnemo match shows the candidates).`,
    );
  }
  let created: Contract | null = null;
  let chosen: Match | null = null;
  for (const candidate of m.matches) {
    progress.update(
      `Reserving ${m.body.ram_gb} GB RAM + ${m.body.vram_gb} GB VRAM on ${candidate.node_name} (${candidate.region}, est. ${usd(candidate.estimated_cost)})...`,
    );
    try {
      created = (
        await ctx.call(
          ctx.api.POST("/api/contracts/create", {
            body: { node_id: candidate.node_id, ...m.body, auto_renew: Boolean(flags["auto-renew"]) },
          }),
        )
      ).contract;
      chosen = candidate;
      break;
    } catch (e) {
      // Someone else took that capacity between the match and the reservation: the next best will do.
      if (e instanceof ApiError && e.code === "insufficient_capacity") {
        progress.done(`${candidate.node_name} no longer has the capacity; trying the next match.`);
        continue;
      }
      progress.done();
      throw e;
    }
  }
  if (!created || !chosen) {
    progress.done();
    throw new RentFailed(`Every matching node was taken before it could be reserved (${m.matches.length} tried); try again.`);
  }
  progress.done(`Created contract ${created.id} on ${chosen.node_name}.`);
  const active = await waitActive(ctx, created.id, waitSec, progress);
  progress.done(`Contract ${active.id} is active until ${active.end_time}.`);
  const lease = (await ctx.call(ctx.api.GET("/api/contracts/{id}/lease", { params: { path: { id: active.id } } }))) as Lease;
  if (ctx.json) {
    printJson({ contract: active, lease });
    return 0;
  }
  if (lease.url) {
    // Only the URL on stdout, so `redis-cli -u "$(mnemo rent ...)"` works; the rest went to stderr.
    out(lease.url);
    err(`Connect with: redis-cli -u '<the URL above>'   (mnemo lease ${active.id} shows it again)`);
  } else {
    err(`This API returned no lease endpoint for the node (no data plane yet); the lease token is in mnemo lease ${active.id}.`);
    out(active.id);
  }
  return 0;
}
