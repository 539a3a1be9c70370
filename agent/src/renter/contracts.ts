/** mnemo contracts list|show|extend|settle|cancel|watch, and mnemo lease. */
import type { Contract, ContractStatus, Lease } from "../client/index.ts";
import type { Ctx } from "./context.ts";
import { RentFailed } from "./market.ts";
import { err, out, parseDuration, parseLimit, parseWholeNumber, printJson, requireId, sleep, table, UsageError, usd } from "./util.ts";

const STATUSES = ["pending", "active", "completed", "failed", "cancelled"] as const;

function contractLines(c: Contract): string {
  const rows: Array<[string, unknown]> = [
    ["id", c.id],
    ["status", c.status + (c.end_reason ? ` (${c.end_reason})` : "")],
    ["node", c.node_id],
    ["memory", `${c.ram_gb} GB RAM + ${c.vram_gb} GB VRAM`],
    ["duration", `${c.duration_sec} s${c.auto_renew ? ", auto-renew" : ""}`],
    ["price", `${c.price_per_gb_sec} USD/GB-s`],
    ["start", c.start_time],
    ["end", c.end_time],
    ["accrued", usd(c.accrued_cost_usd)],
    ["total", usd(c.total_cost_usd)],
    ["settlement", c.settlement_hash],
    ["failed over to", c.failed_over_to],
  ];
  return rows.map(([k, v]) => `${k.padEnd(15)} ${v ?? "-"}`).join("\n") + "\n";
}

export async function list(ctx: Ctx, flags: { status?: string; limit?: string; offset?: string }): Promise<number> {
  if (flags.status !== undefined && !(STATUSES as readonly string[]).includes(flags.status))
    throw new UsageError(`--status must be one of ${STATUSES.join(", ")}, got "${flags.status}".`);
  const limit = parseLimit(flags.limit, 50);
  const offset = parseWholeNumber(flags.offset, "--offset");
  ctx.requireToken();
  const res = await ctx.call(
    ctx.api.GET("/api/contracts", { params: { query: { status: flags.status as ContractStatus | undefined, limit, offset } } }),
  );
  if (ctx.json) {
    printJson(res);
    return 0;
  }
  if (!res.contracts.length) {
    out("No contracts.");
    return 0;
  }
  out(
    table(
      ["ID", "STATUS", "NODE", "RAM_GB", "VRAM_GB", "DURATION_S", "ACCRUED", "TOTAL", "ENDS"],
      res.contracts.map((c) => [
        c.id,
        c.status,
        c.node_id,
        c.ram_gb,
        c.vram_gb,
        c.duration_sec,
        usd(c.accrued_cost_usd),
        usd(c.total_cost_usd),
        c.end_time,
      ]),
    ),
  );
  if (res.total_count > res.contracts.length) err(`${res.contracts.length} of ${res.total_count} shown (--limit, --offset).`);
  return 0;
}

async function getContract(ctx: Ctx, id: string) {
  return ctx.call(ctx.api.GET("/api/contracts/{id}", { params: { path: { id } } }));
}

export async function show(ctx: Ctx, id: string | undefined): Promise<number> {
  const cid = requireId(id, "contracts show");
  ctx.requireToken();
  const view = await getContract(ctx, cid);
  if (ctx.json) printJson(view);
  else
    out(
      contractLines(view.contract) +
        (view.node ? `${"node name".padEnd(15)} ${view.node.name} (${view.node.node_type}, ${view.node.region})\n` : ""),
    );
  return 0;
}

export async function extend(ctx: Ctx, id: string | undefined, by: string | undefined): Promise<number> {
  const cid = requireId(id, "contracts extend");
  const additional = parseDuration(by, "--by");
  ctx.requireToken();
  const { contract } = await ctx.call(
    ctx.api.POST("/api/contracts/{id}/extend", { params: { path: { id: cid } }, body: { additional_sec: additional } }),
  );
  if (ctx.json) printJson({ contract });
  else
    out(
      `Extended ${cid} by ${additional} s: now ends ${contract.end_time ?? "(after it starts)"}, ${contract.duration_sec} s in all, estimated ${usd(contract.total_cost_usd)}.`,
    );
  return 0;
}

export async function settle(ctx: Ctx, id: string | undefined): Promise<number> {
  const cid = requireId(id, "contracts settle");
  ctx.requireToken();
  const { contract } = await ctx.call(ctx.api.POST("/api/contracts/{id}/settle", { params: { path: { id: cid } }, body: {} }));
  if (ctx.json) printJson({ contract });
  else out(`Settled ${cid}: ${contract.status}; the final charge is computed for the time held (mnemo contracts show ${cid}).`);
  return 0;
}

export async function cancel(ctx: Ctx, id: string | undefined): Promise<number> {
  const cid = requireId(id, "contracts cancel");
  ctx.requireToken();
  const { contract } = await ctx.call(ctx.api.POST("/api/contracts/{id}/cancel", { params: { path: { id: cid } } }));
  if (ctx.json) printJson({ contract });
  else out(`Cancelled ${cid}; nothing is charged for a contract that never started.`);
  return 0;
}

const ENDED = new Set(["completed", "failed", "cancelled"]);

/**
 * Follows /ws/{client_id} (the token in the `bearer` subprotocol, as the site does: never in the
 * URL) and prints each state change and the accrued cost until the contract ends. Metering moves
 * the accrued cost without a message, so the contract is also re-read every --interval; without a
 * socket that polling is all there is.
 */
export async function watch(ctx: Ctx, id: string | undefined, flags: { interval?: string; timeout?: string }): Promise<number> {
  let cid = requireId(id, "contracts watch");
  const intervalSec = flags.interval === undefined ? 15 : parseDuration(flags.interval, "--interval");
  const timeoutSec = flags.timeout === undefined ? null : parseDuration(flags.timeout, "--timeout");
  const token = ctx.requireToken();
  const me = await ctx.call(ctx.api.GET("/api/auth/me"));
  let last = "";
  let finished: (() => void) | null = null;
  const done = new Promise<void>((r) => (finished = r));

  const report = (c: Contract, via: string) => {
    if (c.id !== cid) return;
    const key = `${c.status}|${c.accrued_cost_usd}|${c.end_time}|${c.failed_over_to}`;
    if (key === last) return;
    last = key;
    if (ctx.json)
      out(
        JSON.stringify({
          at: new Date().toISOString(),
          via,
          contract_id: c.id,
          status: c.status,
          accrued_cost_usd: c.accrued_cost_usd,
          total_cost_usd: c.total_cost_usd,
          end_time: c.end_time,
          failed_over_to: c.failed_over_to,
        }),
      );
    else
      out(
        `${new Date().toISOString()}  ${c.id}  ${c.status.padEnd(9)}  accrued ${usd(c.accrued_cost_usd)}  of ${usd(c.total_cost_usd)}${c.end_time ? `  ends ${c.end_time}` : ""}${c.failed_over_to ? `  failed over to ${c.failed_over_to}` : ""}`,
      );
    if (c.failed_over_to) {
      cid = c.failed_over_to; // the renter's memory moved: keep following it
      last = "";
      void refresh();
    } else if (ENDED.has(c.status)) finished?.();
  };
  const refresh = async () => report((await getContract(ctx, cid)).contract, "poll");

  await refresh();
  if (ENDED.has(last.split("|")[0])) return 0;

  let ws: WebSocket | null = null;
  if (me.client?.id && typeof WebSocket === "function") {
    const u = new URL(`/ws/${encodeURIComponent(me.client.id)}`, ctx.apiUrl);
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    if (ctx.explain) err(`> GET ${u.toString()} (WebSocket, token in the subprotocol)`);
    try {
      ws = new WebSocket(u, ["bearer", token]);
      ws.addEventListener("message", (ev) => {
        try {
          const m = JSON.parse(String(ev.data)) as { type?: string; data?: Contract };
          if (m.type === "contract_update" && m.data?.id) report(m.data, "websocket");
        } catch {
          /* not a message for us */
        }
      });
      ws.addEventListener("error", () => {
        if (!ctx.json) err("The live channel is unavailable; following the contract by polling.");
      });
    } catch {
      ws = null;
    }
  }
  const poller = setInterval(() => void refresh().catch(() => {}), intervalSec * 1000);
  const limit = timeoutSec === null ? null : setTimeout(() => finished?.(), timeoutSec * 1000);
  try {
    await done;
  } finally {
    clearInterval(poller);
    if (limit) clearTimeout(limit);
    ws?.close();
  }
  if (!ENDED.has(last.split("|")[0])) throw new RentFailed(`Stopped watching ${cid} after --timeout; it is still ${last.split("|")[0]}.`);
  await sleep(0);
  return 0;
}

export async function lease(ctx: Ctx, id: string | undefined, flags: { url?: boolean }): Promise<number> {
  const cid = requireId(id, "lease");
  ctx.requireToken();
  const l = (await ctx.call(ctx.api.GET("/api/contracts/{id}/lease", { params: { path: { id: cid } } }))) as Lease;
  if (flags.url) {
    if (!l.url) throw new RentFailed(`The API returned no lease URL for ${cid} (its node has no data-plane endpoint).`);
    if (ctx.json) printJson({ url: l.url });
    else out(l.url);
    return 0;
  }
  if (ctx.json) printJson(l);
  else
    out(
      Object.entries(l)
        .map(([k, v]) => `${k.padEnd(12)} ${v ?? "-"}`)
        .join("\n"),
    );
  return 0;
}
