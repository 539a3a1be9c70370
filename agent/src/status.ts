/**
 * `mnemo-agent status`: the seller's dashboard in a terminal. What the market sees of the node
 * (status, capacity offered and held, contracts, earnings, last heartbeat) beside what this
 * machine has right now.
 */
import { ApiError, MnemoApi, NetworkError, type ContractView, type Earnings, type NodeDetail } from "./api.ts";
import { defaultReserveGb, offeredGb } from "./capacity.ts";
import { defaultEndpointHost, type AgentConfig } from "./config.ts";
import { FatalError, NO_VRAM_BACKEND } from "./agent.ts";
import { Hardware, type HardwareSample } from "./hardware.ts";
import { formatPrice, formatUsd, plural } from "./log.ts";
import { describeSchedule, isIdle, parseIdleSchedule } from "./schedule.ts";

export interface StatusReport {
  config_path: string;
  api_url: string;
  node_id: string | null;
  machine: {
    total_ram_gb: number;
    available_ram_gb: number;
    reserve_ram_gb: number;
    offered_ram_gb: number;
    vram_total_gb: number;
    vram_free_gb: number;
    /** VRAM this agent offers: 0 until a device backend exists, unless simulated (demo). */
    vram_offered_gb: number;
    /** Why the VRAM offer is what it is. */
    vram_note: string | null;
    simulated: { ram_gb: number | null; vram_gb: number | null } | null;
    /** Where the lease endpoint listens and what renters are told (`host:port`). */
    endpoint: { bind: string; port: number; advertised_host: string };
    gpu_model: string;
    cpu_usage_pct: number | null;
    idle_schedule: string;
    idle_now: boolean;
  };
  node: NodeDetail["node"] | null;
  node_earnings: NodeDetail["earnings"] | null;
  contracts: ContractView[];
  account_earnings: Earnings | null;
  problems: string[];
}

function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "never";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.max(0, Math.round((now - t) / 1000));
  const when = new Date(t).toLocaleString();
  if (s < 120) return `${when} (${s} s ago)`;
  if (s < 7200) return `${when} (${Math.round(s / 60)} min ago)`;
  return `${when} (${Math.round(s / 3600)} h ago)`;
}

function until(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "starts when the node acknowledges it";
  const s = Math.round((Date.parse(iso) - now) / 1000);
  if (Number.isNaN(s)) return iso;
  if (s <= 0) return "ending";
  return s < 120 ? `ends in ${s} s` : s < 7200 ? `ends in ${Math.round(s / 60)} min` : `ends in ${Math.round(s / 3600)} h`;
}

function authOrThrow(e: unknown, configPath: string): never {
  if (e instanceof ApiError && e.status === 401)
    throw new FatalError(`The API refused the API key (401 ${e.code}): check api_key in ${configPath} or MNEMO_API_KEY.`);
  throw e;
}

export async function collectStatus(config: AgentConfig, configPath: string, hw = new Hardware()): Promise<StatusReport> {
  const schedule = parseIdleSchedule(config.idle_schedule);
  const s: HardwareSample = await hw.sample();
  const totalRam = config.simulate_ram_gb ?? s.totalRamGb;
  const availableRam = config.simulate_ram_gb ?? s.availableRamGb;
  const reserve = config.reserve_ram_gb ?? defaultReserveGb(totalRam);
  const simulated = config.simulate_ram_gb !== undefined || config.simulate_vram_gb !== undefined;
  const idle = isIdle(schedule);
  const report: StatusReport = {
    config_path: configPath,
    api_url: config.api_url,
    node_id: config.node_id ?? null,
    machine: {
      total_ram_gb: Math.floor(totalRam),
      available_ram_gb: Math.round(availableRam * 10) / 10,
      reserve_ram_gb: Math.round(reserve * 10) / 10,
      offered_ram_gb: offeredGb(availableRam, reserve, idle),
      vram_total_gb: Math.floor(s.vramTotalGb),
      vram_free_gb: Math.floor(s.vramFreeGb),
      vram_offered_gb: config.simulate_vram_gb !== undefined ? offeredGb(config.simulate_vram_gb, config.reserve_vram_gb, idle) : 0,
      vram_note:
        config.simulate_vram_gb !== undefined
          ? `${config.simulate_vram_gb} GB VRAM SIMULATED with host memory (demo option simulate_vram_gb)`
          : s.vramTotalGb > 0
            ? `offers 0 GB of its ${Math.floor(s.vramTotalGb)} GB VRAM: ${NO_VRAM_BACKEND}`
            : "offers 0 GB VRAM: no GPU with dedicated memory found",
      simulated: simulated ? { ram_gb: config.simulate_ram_gb ?? null, vram_gb: config.simulate_vram_gb ?? null } : null,
      endpoint: { bind: config.endpoint_bind, port: config.endpoint_port, advertised_host: config.endpoint_host ?? defaultEndpointHost() },
      gpu_model: s.gpuModel,
      cpu_usage_pct: s.cpuUsagePct,
      idle_schedule: describeSchedule(schedule),
      idle_now: idle,
    },
    node: null,
    node_earnings: null,
    contracts: [],
    account_earnings: null,
    problems: [],
  };
  const api = new MnemoApi(config.api_url, config.api_key, { timeoutMs: 10_000 });
  const note = (what: string, e: unknown) => {
    if (e instanceof NetworkError) report.problems.push(`${what}: ${e.message}`);
    else if (e instanceof ApiError) report.problems.push(`${what}: ${e.message} (${e.status} ${e.code})`);
    else throw e;
  };
  if (config.node_id) {
    const id = config.node_id;
    const [detail, active, pending] = await Promise.allSettled([
      api.getNode(id),
      api.listContracts(id, "active"),
      api.listContracts(id, "pending"),
    ]);
    if (detail.status === "fulfilled") {
      report.node = detail.value.node;
      report.node_earnings = detail.value.earnings ?? null;
    } else {
      if (detail.reason instanceof ApiError && detail.reason.status === 401) authOrThrow(detail.reason, configPath);
      note("node", detail.reason);
    }
    for (const r of [active, pending]) {
      if (r.status === "fulfilled") report.contracts.push(...r.value.contracts);
      else note("contracts", r.reason);
    }
  }
  try {
    report.account_earnings = await api.earnings();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) authOrThrow(e, configPath);
    note("earnings", e);
  }
  return report;
}

export function renderStatus(r: StatusReport, now = Date.now()): string {
  const lines: string[] = [];
  const row = (label: string, value: string) => lines.push(`${label.padEnd(15)}${value}`);
  const m = r.machine;
  const n = r.node;
  lines.push(n ? `Mnemo node ${n.name}  ·  ${n.status.toUpperCase()}` : "Mnemo node (not registered yet)");
  row("Node id", r.node_id ?? "none yet: `mnemo-agent start` registers this machine");
  if (n) {
    row(
      "Market",
      `${n.node_type} in ${n.region} at ${formatPrice(n.price_per_gb_sec)}/GB·s${typeof n.uptime_score === "number" ? `, uptime score ${n.uptime_score}` : ""}`,
    );
    row("Capacity", `${n.total_ram_gb} GB RAM, ${n.total_vram_gb} GB VRAM total`);
    row(
      "  offered",
      `${n.available_ram_gb} GB RAM, ${n.available_vram_gb} GB VRAM available to renters` +
        (n.reported_ram_gb !== undefined ? ` (last reported ${n.reported_ram_gb} GB RAM, ${n.reported_vram_gb ?? 0} GB VRAM free)` : ""),
    );
    const heldRam = n.held_ram_gb ?? r.contracts.reduce((a, c) => a + c.ram_gb, 0);
    const heldVram = n.held_vram_gb ?? r.contracts.reduce((a, c) => a + c.vram_gb, 0);
    row("  held", `${heldRam} GB RAM, ${heldVram} GB VRAM by contracts`);
    row("Last heartbeat", ago(n.last_heartbeat_at ?? null, now));
  }
  row(
    "This machine",
    `${m.available_ram_gb} of ${m.total_ram_gb} GB RAM free, reserve ${m.reserve_ram_gb} GB → offers ${m.offered_ram_gb} GB; ` +
      `${m.gpu_model}${m.vram_total_gb ? ` (${m.vram_free_gb}/${m.vram_total_gb} GB VRAM free)` : ""}` +
      `${m.cpu_usage_pct !== null ? `; CPU ${m.cpu_usage_pct} %` : ""}`,
  );
  row("VRAM", m.vram_note ?? `${m.vram_offered_gb} GB offered`);
  if (m.simulated)
    row(
      "Simulated",
      `DEMO capacity: ${m.simulated.ram_gb ?? "real"} GB RAM, ${m.simulated.vram_gb ?? 0} GB VRAM (quota is a promise; VRAM is host memory)`,
    );
  const liveEndpoint = n && typeof n.endpoint === "string" ? n.endpoint : null;
  row(
    "Lease endpoint",
    `${liveEndpoint ? `${liveEndpoint} (as the market has it); ` : ""}listens on ${m.endpoint.bind}:${m.endpoint.port === 0 ? "any free port" : m.endpoint.port}, advertised as ${m.endpoint.advertised_host}`,
  );
  row("Idle schedule", `${m.idle_schedule} (${m.idle_now ? "idle now: offering" : "owner's hours now: offering nothing"})`);
  const active = r.contracts.filter((c) => c.status === "active").length;
  row("Contracts", r.contracts.length ? `${active} active, ${r.contracts.length - active} pending` : r.node_id ? "none right now" : "—");
  for (const c of r.contracts) {
    const accrued = c.accrued_cost_usd !== undefined ? `, accrued ${formatUsd(c.accrued_cost_usd)}` : "";
    lines.push(
      `  ${c.id}  ${String(c.ram_gb).padStart(3)} GB RAM ${String(c.vram_gb).padStart(3)} GB VRAM  ${c.status.padEnd(8)} ${until(c.end_time, now)}${accrued}`,
    );
  }
  const e = r.account_earnings;
  if (r.node_earnings)
    row("Node earnings", `${formatUsd(r.node_earnings.total_usd)} total, ${formatUsd(r.node_earnings.last_30d_usd)} in the last 30 days`);
  if (e)
    row("Account", `earned ${formatUsd(e.earned_usd)}, paid out ${formatUsd(e.paid_out_usd)}, pending payout ${formatUsd(e.pending_usd)}`);
  row("API", r.api_url);
  row("Config", r.config_path);
  for (const p of r.problems) lines.push(`! ${p}`);
  if (r.problems.length) lines.push(`! ${plural(r.problems.length, "part")} of the dashboard could not be loaded`);
  return `${lines.join("\n")}\n`;
}
