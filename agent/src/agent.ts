/**
 * The provider's daemon: register once, heartbeat at the pace the server sets, hold the contracts
 * it is given when the memory is really there, and leave the node in maintenance when stopped.
 */
import { arch, platform } from "node:os";
import { ApiError, MnemoApi, NetworkError, type HeartbeatBody, type HeartbeatContract, type NodeView } from "./api.ts";
import { defaultReserveGb, fitContracts, offeredGb } from "./capacity.ts";
import { saveNodeId, type AgentConfig } from "./config.ts";
import { Hardware, type HardwareSample } from "./hardware.ts";
import { formatUsd, plural, type Logger } from "./log.ts";
import { describeSchedule, isIdle, parseIdleSchedule } from "./schedule.ts";
import { VERSION } from "./version.ts";

/** Ends the process with this exit code and one sentence for the owner (no stack trace). */
export class FatalError extends Error {
  override name = "FatalError";
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

class Stopped extends Error {}

const DEFAULT_INTERVAL_SEC = 30;
const BACKOFF_BASE_SEC = 1;
const BACKOFF_CAP_SEC = 60;
const EARNINGS_REFRESH_MS = 60_000;
const SHUTDOWN_TIMEOUT_MS = 3_000;

/**
 * Exponential backoff with "equal jitter": half the step is fixed, so retries never bunch up at
 * zero, and half is random, so a fleet of agents that lost the API together does not come back
 * in lockstep.
 */
export function backoffSec(attempt: number, random: () => number = Math.random): number {
  const step = Math.min(BACKOFF_CAP_SEC, BACKOFF_BASE_SEC * 2 ** Math.max(0, attempt - 1));
  return step / 2 + random() * (step / 2);
}

export interface AgentOptions {
  config: AgentConfig;
  configPath: string;
  logger: Logger;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
  hardware?: Hardware;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(new Stopped());
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(t);
      reject(new Stopped());
    };
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function authFailure(e: ApiError, configPath: string, what: string): FatalError {
  if (e.status === 401) {
    return new FatalError(`The API refused the API key while ${what} (401 ${e.code}): check api_key in ${configPath} or MNEMO_API_KEY.`);
  }
  return new FatalError(`The API key's account may not do this while ${what} (403 ${e.code}: ${e.message}); it must be a provider's key, and the node must belong to that provider.`);
}

function gb(n: number): string {
  return `${n} GB`;
}

export class Agent {
  private readonly config: AgentConfig;
  private readonly configPath: string;
  private readonly log: Logger;
  private readonly signal: AbortSignal;
  private readonly hw: Hardware;
  private readonly api: MnemoApi;
  private readonly schedule;

  private nodeId: string | null;
  private nodeStatus: string | null = null;
  private reserveRamGb = 0;
  /** Contracts this machine has acknowledged and holds, by id. */
  private readonly held = new Map<string, HeartbeatContract>();
  /** Contracts refused; sent in `rejected_contracts` until a heartbeat carrying them is accepted. */
  private pendingRejects = new Set<string>();
  private readonly rejected = new Set<string>();
  private earnedUsd: number | string | null = null;
  private earningsAt = 0;
  private earningsWarned = false;
  private failures = 0;

  constructor(opts: AgentOptions) {
    this.config = opts.config;
    this.configPath = opts.configPath;
    this.log = opts.logger;
    this.signal = opts.signal;
    this.hw = opts.hardware ?? new Hardware();
    this.api = new MnemoApi(opts.config.api_url, opts.config.api_key, { cancel: opts.signal });
    this.schedule = parseIdleSchedule(opts.config.idle_schedule);
    this.nodeId = opts.config.node_id ?? null;
  }

  /** Runs until stopped; resolves with the exit code. Throws FatalError for what retrying cannot fix. */
  async run(): Promise<number> {
    try {
      const first = await this.hw.sample();
      this.reserveRamGb = this.config.reserve_ram_gb ?? defaultReserveGb(first.totalRamGb);
      this.log.info(
        "start",
        `mnemo-agent ${VERSION}: ${gb(Math.floor(first.totalRamGb))} RAM, ${first.gpuModel}${first.vramTotalGb > 0 ? ` (${gb(Math.floor(first.vramTotalGb))} VRAM)` : ""}; ` +
          `reserve ${this.reserveRamGb.toFixed(1)} GB; idle schedule ${describeSchedule(this.schedule)}; API ${this.api.baseUrl}`,
        {
          version: VERSION,
          total_ram_gb: Math.floor(first.totalRamGb),
          total_vram_gb: Math.floor(first.vramTotalGb),
          gpu_model: first.gpuModel,
          reserve_ram_gb: this.reserveRamGb,
          idle_schedule: describeSchedule(this.schedule),
          api_url: this.api.baseUrl,
        },
      );
      await this.ensureNode(first);
      await this.loop();
      return 0;
    } catch (e) {
      if (e instanceof Stopped || (this.signal.aborted && !(e instanceof FatalError))) return this.shutdown();
      throw e;
    }
  }

  /** Retries what may pass (network, 5xx, 429) forever with backoff; anything else is the caller's. */
  private async withRetry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await fn();
        if (attempt > 1) this.log.info("api_reachable", `API reachable again after ${plural(attempt - 1, "failed attempt")}`, { attempts: attempt - 1 });
        return out;
      } catch (e) {
        if (this.signal.aborted) throw new Stopped();
        if (e instanceof ApiError && e.status === 429) {
          const wait = e.retryAfterSec ?? DEFAULT_INTERVAL_SEC;
          this.log.info("rate_limited", `${what}: the API asks to wait ${wait} s`, { retry_after_sec: wait });
          await sleep(wait * 1000, this.signal);
          continue;
        }
        if (e instanceof NetworkError || (e instanceof ApiError && e.transient)) {
          const wait = backoffSec(attempt);
          const why = e instanceof ApiError ? `the API answered ${e.status} ${e.code}` : `API unreachable: ${e.message}`;
          this.log.warn("retry", `${what} failed (${why}); retrying in ${wait.toFixed(1)} s (attempt ${attempt})`, {
            attempt,
            retry_in_sec: Number(wait.toFixed(3)),
            error: e.message,
            status: e instanceof ApiError ? e.status : null,
          });
          await sleep(wait * 1000, this.signal);
          continue;
        }
        throw e;
      }
    }
  }

  private async ensureNode(sample: HardwareSample): Promise<void> {
    if (this.nodeId) {
      const id = this.nodeId;
      try {
        const detail = await this.withRetry("looking up the node", () => this.api.getNode(id));
        this.nodeStatus = detail.node.status;
        this.log.info("node_reused", `reusing node ${id} (${detail.node.name}, ${detail.node.status})`, { node_id: id, status: detail.node.status });
        return;
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        if (e.status === 401) throw authFailure(e, this.configPath, `looking up node ${id}`);
        if (e.status === 403) {
          throw new FatalError(`Node ${id} in ${this.configPath} belongs to another account than this API key (403 ${e.code}); remove node_id to register this machine as a new node.`);
        }
        if (e.status !== 404) throw new FatalError(`Looking up node ${id} failed: ${e.message} (${e.status} ${e.code}).`);
        this.log.warn("node_missing", `node ${id} from ${this.configPath} does not exist on this server; registering a new node`, { node_id: id });
        this.nodeId = null;
      }
    }
    await this.register(sample);
  }

  private async register(sample: HardwareSample): Promise<void> {
    const c = this.config;
    const body = {
      node_type: c.node_type,
      name: c.name,
      region: c.region,
      ...(c.latitude !== undefined ? { latitude: c.latitude } : {}),
      ...(c.longitude !== undefined ? { longitude: c.longitude } : {}),
      total_ram_gb: Math.floor(sample.totalRamGb),
      total_vram_gb: Math.floor(sample.vramTotalGb),
      bandwidth_mbps: c.bandwidth_mbps,
      base_latency_ms: c.base_latency_ms,
      price_per_gb_sec: c.price_per_gb_sec,
      ...(c.min_duration_sec !== undefined ? { min_duration_sec: c.min_duration_sec } : {}),
      ...(c.max_duration_sec !== undefined ? { max_duration_sec: c.max_duration_sec } : {}),
      ...(c.egress_price_per_gb !== undefined ? { egress_price_per_gb: c.egress_price_per_gb } : {}),
      metadata: { agent: `mnemo-agent/${VERSION}`, gpu_model: sample.gpuModel, platform: platform(), arch: arch() },
    };
    let res: { node_id: string; node: NodeView };
    try {
      res = await this.withRetry("registering the node", () => this.api.registerNode(body));
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      if (e.status === 401 || e.status === 403) throw authFailure(e, this.configPath, "registering the node");
      const details = Array.isArray(e.details) && e.details.length ? ` (${JSON.stringify(e.details)})` : "";
      throw new FatalError(`The API refused to register this node: ${e.message}${details}; fix ${this.configPath} and start again.`, 2);
    }
    this.nodeId = res.node_id;
    this.nodeStatus = res.node?.status ?? "active";
    try {
      saveNodeId(this.configPath, res.node_id);
    } catch (e) {
      // Without the id on disk the next start would register a duplicate node: say so loudly.
      this.log.error("config_write_failed", `registered node ${res.node_id} but could not save node_id to ${this.configPath}: ${(e as Error).message}; add "node_id": "${res.node_id}" to the config by hand`, {
        node_id: res.node_id,
      });
    }
    this.log.info("registered", `registered node ${res.node_id} (${c.name}, ${c.region}) with ${gb(body.total_ram_gb)} RAM, ${gb(body.total_vram_gb)} VRAM; node_id saved to ${this.configPath}`, {
      node_id: res.node_id,
      total_ram_gb: body.total_ram_gb,
      total_vram_gb: body.total_vram_gb,
    });
  }

  private async setStatus(status: "active" | "maintenance", why: string): Promise<void> {
    const id = this.nodeId as string;
    try {
      const res = await this.withRetry(`setting the node ${status}`, () => this.api.updateNode(id, { status }));
      this.nodeStatus = res.node?.status ?? status;
      this.log.info("node_status", `node ${id} is now ${status}: ${why}`, { node_id: id, status });
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) throw authFailure(e, this.configPath, `setting node ${id} ${status}`);
      if (e instanceof ApiError) this.log.warn("node_status_failed", `could not set node ${id} ${status}: ${e.message} (${e.status} ${e.code})`, { status: e.status });
      else throw e;
    }
  }

  private async loop(): Promise<void> {
    let wasIdle: boolean | null = null;
    for (;;) {
      const idle = isIdle(this.schedule);
      if (idle !== wasIdle) {
        if (!idle && this.nodeStatus !== "maintenance") await this.setStatus("maintenance", "outside the idle schedule, offering nothing");
        // A node left in maintenance by the last shutdown (or the schedule) goes back on the market.
        if (idle && this.nodeStatus === "maintenance") await this.setStatus("active", wasIdle === null ? "agent started" : "idle schedule window opened");
        wasIdle = idle;
      }
      const waitSec = await this.beat(idle);
      await sleep(waitSec * 1000, this.signal);
    }
  }

  /** One heartbeat, with its retries; returns the seconds to wait before the next. */
  private async beat(idle: boolean): Promise<number> {
    const id = this.nodeId as string;
    const s = await this.hw.sample();
    const offered = {
      ram_gb: offeredGb(s.availableRamGb, this.reserveRamGb, idle),
      vram_gb: offeredGb(s.vramFreeGb, this.config.reserve_vram_gb, idle),
    };
    const rejects = [...this.pendingRejects];
    const body: HeartbeatBody = {
      available_ram_gb: offered.ram_gb,
      available_vram_gb: offered.vram_gb,
      ...(s.cpuUsagePct !== null ? { cpu_usage_pct: s.cpuUsagePct } : {}),
      ...(s.gpuUsagePct !== null ? { gpu_usage_pct: s.gpuUsagePct } : {}),
      ...(s.temperatureC !== null ? { temperature_c: s.temperatureC } : {}),
      ...(rejects.length ? { rejected_contracts: rejects } : {}),
    };
    let res;
    try {
      res = await this.withRetry("heartbeat", () => this.api.heartbeat(id, body));
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      if (e.status === 401 || e.status === 403) throw authFailure(e, this.configPath, `sending node ${id}'s heartbeat`);
      if (e.status === 404) {
        this.log.warn("node_missing", `node ${id} no longer exists on the server; registering a new node`, { node_id: id });
        this.held.clear();
        this.pendingRejects.clear();
        await this.register(s);
        return 0;
      }
      // A 4xx the agent cannot fix by itself (e.g. a server that changed its schema): keep the
      // node alive in the owner's logs, and try again later rather than exit.
      this.failures++;
      const wait = backoffSec(this.failures);
      this.log.error("heartbeat_refused", `heartbeat refused: ${e.message} (${e.status} ${e.code}); retrying in ${wait.toFixed(1)} s`, { status: e.status, code: e.code, details: e.details });
      return wait;
    }
    this.failures = 0;
    for (const r of rejects) this.pendingRejects.delete(r);
    this.nodeStatus = res.status ?? this.nodeStatus;
    this.applyContracts(res.contracts ?? [], offered);
    await this.refreshEarnings();

    const interval = Math.max(res.next_heartbeat_sec || DEFAULT_INTERVAL_SEC, this.config.heartbeat_interval ?? 0);
    const heldList = [...this.held.values()];
    const heldRam = heldList.reduce((a, c) => a + c.ram_gb, 0);
    const heldVram = heldList.reduce((a, c) => a + c.vram_gb, 0);
    const statusNote = res.status && res.status !== "active" ? ` · node ${res.status}` : "";
    this.log.info(
      "heartbeat",
      `heartbeat: offering ${gb(offered.ram_gb)} RAM, ${gb(offered.vram_gb)} VRAM · ${plural(heldList.length, "contract")}` +
        `${heldList.length ? ` (${gb(heldRam)} RAM, ${gb(heldVram)} VRAM)` : ""} · earned ${formatUsd(this.earnedUsd)}${statusNote} · next in ${interval} s`,
      {
        node_id: id,
        node_status: res.status,
        available_ram_gb: offered.ram_gb,
        available_vram_gb: offered.vram_gb,
        cpu_usage_pct: s.cpuUsagePct,
        contracts: heldList.map((c) => c.id),
        held_ram_gb: heldRam,
        held_vram_gb: heldVram,
        rejected_contracts: rejects,
        earned_usd: this.earnedUsd,
        next_heartbeat_sec: interval,
      },
    );
    return interval;
  }

  private applyContracts(contracts: HeartbeatContract[], offered: { ram_gb: number; vram_gb: number }): void {
    const listed = new Set(contracts.map((c) => c.id));
    for (const [cid, c] of this.held) {
      if (!listed.has(cid)) {
        this.held.delete(cid);
        this.log.info("contract_ended", `contract ${cid} ended (${gb(c.ram_gb)} RAM, ${gb(c.vram_gb)} VRAM released)`, { contract_id: cid, ram_gb: c.ram_gb, vram_gb: c.vram_gb });
      }
    }
    for (const cid of this.rejected) if (!listed.has(cid)) this.rejected.delete(cid);
    const fresh: HeartbeatContract[] = [];
    for (const c of contracts) {
      if (this.held.has(c.id)) this.held.set(c.id, c);
      // Still listed after a rejection: the server has not processed it yet; say it again.
      else if (this.rejected.has(c.id)) this.pendingRejects.add(c.id);
      else fresh.push(c);
    }
    const { hold, reject } = fitContracts(fresh, offered, [...this.held.values()]);
    for (const c of hold) {
      this.held.set(c.id, c);
      this.log.info("contract_held", `holding contract ${c.id} (${gb(c.ram_gb)} RAM, ${gb(c.vram_gb)} VRAM)`, {
        contract_id: c.id,
        ram_gb: c.ram_gb,
        vram_gb: c.vram_gb,
        end_time: c.end_time,
      });
    }
    for (const c of reject) {
      this.rejected.add(c.id);
      this.pendingRejects.add(c.id);
      this.log.warn(
        "contract_rejected",
        `cannot hold contract ${c.id} (${gb(c.ram_gb)} RAM, ${gb(c.vram_gb)} VRAM): only ${gb(offered.ram_gb)} RAM, ${gb(offered.vram_gb)} VRAM free beyond the reserve; rejecting it on the next heartbeat`,
        { contract_id: c.id, ram_gb: c.ram_gb, vram_gb: c.vram_gb, offered_ram_gb: offered.ram_gb, offered_vram_gb: offered.vram_gb },
      );
    }
  }

  private async refreshEarnings(): Promise<void> {
    if (Date.now() - this.earningsAt < EARNINGS_REFRESH_MS) return;
    this.earningsAt = Date.now();
    try {
      const e = await this.api.earnings();
      this.earnedUsd = e.earned_usd;
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) throw authFailure(e, this.configPath, "reading earnings");
      // Earnings only decorate the heartbeat line; their absence must never stop the node.
      if (!this.earningsWarned) {
        this.earningsWarned = true;
        this.log.warn("earnings_unavailable", `earnings unavailable (${(e as Error).message}); heartbeats go on`);
      }
    }
  }

  /** Takes the node off the market so no contract lands on a machine that is going away. */
  private async shutdown(): Promise<number> {
    if (!this.nodeId) {
      this.log.info("stopped", "stopped before the node was registered");
      return 0;
    }
    const id = this.nodeId;
    try {
      await this.api.updateNode(id, { status: "maintenance" }, { timeoutMs: SHUTDOWN_TIMEOUT_MS });
      const note = this.held.size ? `; ${plural(this.held.size, "contract")} still listed on the node` : "";
      this.log.info("stopped", `node ${id} set to maintenance; stopped${note}`, { node_id: id, status: "maintenance", held: this.held.size });
    } catch (e) {
      this.log.warn("stopped", `stopped, but could not set node ${id} to maintenance (${(e as Error).message}); it will go offline when heartbeats stop`, {
        node_id: id,
      });
    }
    return 0;
  }
}
