/**
 * The provider's daemon: register once, serve every lease the market gives this node on its
 * Redis-protocol endpoint, hear about new contracts at once on the push channel (heartbeats at the
 * pace the server sets stay the fallback and carry the leases' counters and receipts), and on
 * SIGINT/SIGTERM wipe the leases, report, and leave the node in maintenance.
 */
import { arch, platform } from "node:os";
import {
  ApiError,
  MnemoApi,
  NetworkError,
  type HeartbeatBody,
  type HeartbeatContract,
  type HeartbeatResponse,
  type LeaseReport,
  type NodeView,
} from "./api.ts";
import { backoffSec } from "./backoff.ts";
import { defaultReserveGb, fitContracts, leaseRoomGb } from "./capacity.ts";
import { defaultEndpointHost, saveNodeId, type AgentConfig } from "./config.ts";
import { Hardware, type HardwareSample } from "./hardware.ts";
import { LeaseServer, type LeaseReceipt } from "./lease/index.ts";
import { formatUsd, plural, type Logger } from "./log.ts";
import { PushChannel } from "./push.ts";
import { planList } from "./reconcile.ts";
import { describeSchedule, isIdle, parseIdleSchedule } from "./schedule.ts";
import { VERSION } from "./version.ts";

export { backoffSec } from "./backoff.ts";

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

const GIB = 1024 ** 3;
const DEFAULT_INTERVAL_SEC = 30;
const EARNINGS_REFRESH_MS = 60_000;
/** The whole shutdown (last heartbeat with the receipts, releasing the contracts, maintenance) fits in this. */
const SHUTDOWN_BUDGET_MS = 4_000;
/** A hardware sample is reused this long: a burst of pushed contracts needs one reading, not one each. */
const SAMPLE_TTL_MS = 1_000;
/** The server accepts at most this many lease reports per heartbeat. */
const MAX_REPORTS = 1_000;
/** Ids of ended or refused contracts remembered so a stale list can never reopen them. */
const MAX_GONE = 10_000;

/** Why this machine offers no VRAM (shown by `status` and logged at start). */
export const NO_VRAM_BACKEND =
  "no device backend for GPU memory yet: VRAM leases come in a later release, and host RAM is never sold as VRAM";

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
  return new FatalError(
    `The API key's account may not do this while ${what} (403 ${e.code}: ${e.message}); it must be a provider's key, and the node must belong to that provider.`,
  );
}

function gb(n: number): string {
  return `${n} GB`;
}

/** What the agent knows of one open lease. */
interface OpenLease {
  contract: HeartbeatContract;
  /** The newest contract list this lease appeared in (see `listSeq`). */
  seenSeq: number;
  ready: boolean;
  readyInFlight: boolean;
  readyAttempts: number;
  readyTimer: NodeJS.Timeout | null;
}

function endsAtMs(endTime: string | null): number | null {
  if (endTime === null) return null;
  const t = Date.parse(endTime);
  return Number.isNaN(t) ? null : t;
}

function receiptReport(r: LeaseReceipt): LeaseReport {
  return {
    contract_id: r.contract_id,
    bytes_in: r.bytes_in,
    bytes_out: r.bytes_out,
    keys: r.keys,
    used_bytes: r.used_bytes,
    final: true,
    digest: r.digest,
    wiped_at: r.wiped_at,
  };
}

export class Agent {
  private readonly config: AgentConfig;
  private readonly configPath: string;
  private readonly log: Logger;
  private readonly signal: AbortSignal;
  private readonly hw: Hardware;
  private readonly api: MnemoApi;
  private readonly schedule;
  private readonly endpointHost: string;

  private nodeId: string | null;
  private nodeStatus: string | null = null;
  private reserveRamGb = 0;
  private server: LeaseServer | null = null;
  private push: PushChannel | null = null;
  private endpoint: string | null = null;
  /** Open leases by contract id. */
  private readonly leases = new Map<string, OpenLease>();
  /**
   * Every contract list (pushed or in a heartbeat answer) gets a number: a heartbeat's when its
   * request is sent, a pushed one's when it arrives. A lease is ended only by a list newer than
   * the one it was last seen in, so a heartbeat answer that was computed before a pushed contract
   * existed can never close it.
   */
  private listSeq = 0;
  /** Lists are applied one at a time, in order. */
  private chain: Promise<void> = Promise.resolve();
  /** Contracts ended or refused here: never reopened, whatever a late list says. */
  private readonly gone = new Set<string>();
  /** Contracts refused; sent in `rejected_contracts` until a heartbeat carrying them is accepted. */
  private pendingRejects = new Set<string>();
  /** Refused contracts, with the number of the list they were refused from. */
  private readonly rejected = new Map<string, number>();
  /** Final receipts not yet carried by an accepted heartbeat. */
  private readonly receipts = new Map<string, LeaseReceipt>();
  private sampleCache: { at: number; sample: HardwareSample } | null = null;
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
    this.endpointHost = opts.config.endpoint_host ?? defaultEndpointHost();
  }

  /** The lease endpoint (`host:port`) once listening. */
  get leaseEndpoint(): string | null {
    return this.endpoint;
  }

  get id(): string | null {
    return this.nodeId;
  }

  /** Runs until stopped; resolves with the exit code. Throws FatalError for what retrying cannot fix. */
  async run(): Promise<number> {
    try {
      const first = await this.sample(true);
      const totalRam = this.config.simulate_ram_gb ?? first.totalRamGb;
      this.reserveRamGb = this.config.reserve_ram_gb ?? defaultReserveGb(totalRam);
      const vramNote =
        this.config.simulate_vram_gb !== undefined
          ? `; ${gb(this.config.simulate_vram_gb)} VRAM SIMULATED with host memory (demo)`
          : first.vramTotalGb > 0
            ? `; offering 0 GB of its VRAM: ${NO_VRAM_BACKEND}`
            : "";
      this.log.info(
        "start",
        `mnemo-agent ${VERSION}: ${gb(Math.floor(totalRam))} RAM${this.config.simulate_ram_gb !== undefined ? " (SIMULATED, demo)" : ""}, ${first.gpuModel}${first.vramTotalGb > 0 ? ` (${gb(Math.floor(first.vramTotalGb))} VRAM)` : ""}; ` +
          `reserve ${this.reserveRamGb.toFixed(1)} GB; idle schedule ${describeSchedule(this.schedule)}; API ${this.api.baseUrl}${vramNote}`,
        {
          version: VERSION,
          total_ram_gb: Math.floor(totalRam),
          total_vram_gb: Math.floor(first.vramTotalGb),
          gpu_model: first.gpuModel,
          reserve_ram_gb: this.reserveRamGb,
          idle_schedule: describeSchedule(this.schedule),
          api_url: this.api.baseUrl,
          simulated_ram_gb: this.config.simulate_ram_gb ?? null,
          simulated_vram_gb: this.config.simulate_vram_gb ?? null,
        },
      );
      await this.ensureNode(first);
      await this.startServing();
      await this.loop();
      return 0;
    } catch (e) {
      if (e instanceof Stopped || (this.signal.aborted && !(e instanceof FatalError))) return this.shutdown();
      // Nothing may outlive a fatal error: a listening lease server would keep the process up.
      await this.stopServing("fatal");
      throw e;
    }
  }

  private async sample(fresh = false): Promise<HardwareSample> {
    const now = Date.now();
    if (!fresh && this.sampleCache && now - this.sampleCache.at < SAMPLE_TTL_MS) return this.sampleCache.sample;
    const sample = await this.hw.sample();
    this.sampleCache = { at: now, sample };
    return sample;
  }

  /** Retries what may pass (network, 5xx, 429) forever with backoff; anything else is the caller's. */
  private async withRetry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await fn();
        if (attempt > 1)
          this.log.info("api_reachable", `API reachable again after ${plural(attempt - 1, "failed attempt")}`, { attempts: attempt - 1 });
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
        this.log.info("node_reused", `reusing node ${id} (${detail.node.name}, ${detail.node.status})`, {
          node_id: id,
          status: detail.node.status,
        });
        return;
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        if (e.status === 401) throw authFailure(e, this.configPath, `looking up node ${id}`);
        if (e.status === 403) {
          throw new FatalError(
            `Node ${id} in ${this.configPath} belongs to another account than this API key (403 ${e.code}); remove node_id to register this machine as a new node.`,
          );
        }
        if (e.status !== 404) throw new FatalError(`Looking up node ${id} failed: ${e.message} (${e.status} ${e.code}).`);
        this.log.warn("node_missing", `node ${id} from ${this.configPath} does not exist on this server; registering a new node`, {
          node_id: id,
        });
        this.nodeId = null;
      }
    }
    await this.register(sample);
  }

  /** VRAM this node can back: simulated host memory in the demo, else none until a device backend exists. */
  private vramCapacityGb(): number {
    return this.config.simulate_vram_gb ?? 0;
  }

  private async register(sample: HardwareSample): Promise<void> {
    const c = this.config;
    // A fixed port is known before listening, so renters can be told at once; port 0 is
    // advertised by the first heartbeat, right after the server listens.
    const endpoint = this.endpoint ?? (c.endpoint_port !== 0 ? `${this.endpointHost}:${c.endpoint_port}` : undefined);
    const simulated = c.simulate_ram_gb !== undefined || c.simulate_vram_gb !== undefined;
    const body = {
      node_type: c.node_type,
      name: c.name,
      region: c.region,
      ...(c.latitude !== undefined ? { latitude: c.latitude } : {}),
      ...(c.longitude !== undefined ? { longitude: c.longitude } : {}),
      total_ram_gb: Math.floor(c.simulate_ram_gb ?? sample.totalRamGb),
      // Only VRAM the node can back is registered; the GPU itself is described in metadata.
      total_vram_gb: this.vramCapacityGb(),
      bandwidth_mbps: c.bandwidth_mbps,
      base_latency_ms: c.base_latency_ms,
      price_per_gb_sec: c.price_per_gb_sec,
      ...(c.min_duration_sec !== undefined ? { min_duration_sec: c.min_duration_sec } : {}),
      ...(c.max_duration_sec !== undefined ? { max_duration_sec: c.max_duration_sec } : {}),
      ...(c.egress_price_per_gb !== undefined ? { egress_price_per_gb: c.egress_price_per_gb } : {}),
      ...(endpoint ? { endpoint } : {}),
      metadata: {
        agent: `mnemo-agent/${VERSION}`,
        gpu_model: sample.gpuModel,
        gpu_vram_gb: Math.floor(sample.vramTotalGb),
        platform: platform(),
        arch: arch(),
        ...(simulated
          ? {
              simulated: {
                ram_gb: c.simulate_ram_gb ?? null,
                vram_gb: c.simulate_vram_gb ?? null,
                note: "demo node: capacity is a promise, VRAM is host memory",
              },
            }
          : {}),
      },
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
      this.log.error(
        "config_write_failed",
        `registered node ${res.node_id} but could not save node_id to ${this.configPath}: ${(e as Error).message}; add "node_id": "${res.node_id}" to the config by hand`,
        {
          node_id: res.node_id,
        },
      );
    }
    this.log.info(
      "registered",
      `registered node ${res.node_id} (${c.name}, ${c.region}) with ${gb(body.total_ram_gb)} RAM, ${gb(body.total_vram_gb)} VRAM; node_id saved to ${this.configPath}`,
      {
        node_id: res.node_id,
        total_ram_gb: body.total_ram_gb,
        total_vram_gb: body.total_vram_gb,
      },
    );
  }

  /** Opens the lease endpoint for this node and the push channel. */
  private async startServing(): Promise<void> {
    const nodeId = this.nodeId as string;
    const c = this.config;
    const server = new LeaseServer({
      nodeId,
      bind: c.endpoint_bind,
      port: c.endpoint_port,
      jwksUrl: `${this.api.baseUrl}/.well-known/jwks.json`,
      log: (event, message, fields) => this.log.info(event, message, fields),
    });
    let port: number;
    try {
      ({ port } = await server.listen());
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      const hint =
        code === "EADDRINUSE"
          ? "another program uses that port"
          : code === "EACCES"
            ? "this user may not listen there"
            : code === "EADDRNOTAVAIL"
              ? "no interface of this machine has that address"
              : "";
      throw new FatalError(
        `The lease endpoint cannot listen on ${c.endpoint_bind}:${c.endpoint_port} (${code}${hint ? `: ${hint}` : ""}); set endpoint_port (0 = any free port) or endpoint_bind in ${this.configPath}.`,
      );
    }
    this.server = server;
    this.endpoint = `${this.endpointHost}:${port}`;
    this.log.info("endpoint", `serving leases (Redis protocol) on ${c.endpoint_bind}:${port}, advertised as ${this.endpoint}`, {
      node_id: nodeId,
      endpoint: this.endpoint,
      bind: c.endpoint_bind,
      port,
    });
    // `ready` is refused until the node has an endpoint (a renter is never billed for a lease they
    // cannot reach), and a pushed contract may come before the first heartbeat: publish it now.
    try {
      await this.withRetry("publishing the lease endpoint", () => this.api.updateNode(nodeId, { endpoint: this.endpoint }));
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403))
        throw authFailure(e, this.configPath, `publishing node ${nodeId}'s endpoint`);
      if (!(e instanceof ApiError)) throw e;
      // The heartbeat carries it too; until then `ready` waits for it (and is retried).
      this.log.warn(
        "endpoint_unpublished",
        `could not publish the endpoint ${this.endpoint}: ${e.message} (${e.status} ${e.code}); the next heartbeat carries it`,
        { status: e.status },
      );
    }
    this.push = new PushChannel({
      apiUrl: this.api.baseUrl,
      apiKey: c.api_key,
      nodeId,
      logger: this.log,
      onContracts: (list) => void this.reconcile(list, ++this.listSeq, "push"),
    });
    this.push.start();
  }

  /** Ends every lease (receipts kept for the next heartbeat) and stops listening. */
  private async stopServing(why: string): Promise<LeaseReceipt[]> {
    this.push?.close();
    this.push = null;
    const server = this.server;
    this.server = null;
    if (!server) return [];
    await this.chain.catch(() => {});
    for (const l of this.leases.values()) if (l.readyTimer) clearTimeout(l.readyTimer);
    let receipts: LeaseReceipt[] = [];
    try {
      receipts = await server.close();
    } catch (e) {
      this.log.error("lease_close_failed", `closing the lease endpoint failed (${why}): ${(e as Error).message}`);
    }
    for (const r of receipts) {
      this.receipts.set(r.contract_id, r);
      this.gone.add(r.contract_id);
    }
    this.leases.clear();
    return receipts;
  }

  private async setStatus(status: "active" | "maintenance", why: string): Promise<void> {
    const id = this.nodeId as string;
    try {
      const res = await this.withRetry(`setting the node ${status}`, () => this.api.updateNode(id, { status }));
      this.nodeStatus = res.node?.status ?? status;
      this.log.info("node_status", `node ${id} is now ${status}: ${why}`, { node_id: id, status });
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403))
        throw authFailure(e, this.configPath, `setting node ${id} ${status}`);
      if (e instanceof ApiError)
        this.log.warn("node_status_failed", `could not set node ${id} ${status}: ${e.message} (${e.status} ${e.code})`, {
          status: e.status,
        });
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
        if (idle && this.nodeStatus === "maintenance")
          await this.setStatus("active", wasIdle === null ? "agent started" : "idle schedule window opened");
        wasIdle = idle;
      }
      const waitSec = await this.beat(idle);
      await sleep(waitSec * 1000, this.signal);
    }
  }

  /**
   * What this machine can still give to new leases: free memory beyond the reserve minus what open
   * leases hold (their whole quota, written or not). Simulated capacity (demo) is a fixed figure.
   */
  /**
   * `net` (the default, for deciding whether a contract fits): what is left once open leases'
   * quotas are taken. Gross (`net: false`, the heartbeat's figure): what the machine can give to
   * leases in all, before their quotas, because the server subtracts every pending and active
   * contract itself (`MIN(reported, total) − held`, API.md: held capacity "is never offered
   * again, whatever a heartbeat says") and knows of a new one before the agent's next heartbeat.
   * Reporting the net figure would take each lease off the market twice.
   */
  private async room(idle = isIdle(this.schedule), net = true): Promise<{ ram_gb: number; vram_gb: number }> {
    const s = await this.sample();
    let heldRam = 0;
    let heldVram = 0;
    for (const l of this.leases.values()) {
      heldRam += l.contract.ram_gb;
      heldVram += l.contract.vram_gb;
    }
    const server = this.server;
    // The lease server's own count of what it holds, less the VRAM part (backed separately).
    const heldRamGb = !net ? 0 : server ? Math.max(heldRam, server.heldBytes() / GIB - heldVram) : heldRam;
    if (!net) heldVram = 0;
    const usedGb = server ? server.counters().reduce((a, c) => a + c.used_bytes, 0) / GIB : 0;
    const c = this.config;
    const ram =
      c.simulate_ram_gb !== undefined
        ? leaseRoomGb({ availableGb: c.simulate_ram_gb, reserveGb: this.reserveRamGb, heldGb: heldRamGb, idle })
        : leaseRoomGb({ availableGb: s.availableRamGb, reserveGb: this.reserveRamGb, heldGb: heldRamGb, usedGb, idle });
    const vram =
      c.simulate_vram_gb !== undefined
        ? leaseRoomGb({ availableGb: c.simulate_vram_gb, reserveGb: c.reserve_vram_gb, heldGb: heldVram, idle })
        : 0;
    return { ram_gb: ram, vram_gb: vram };
  }

  /** Applies one contract list, after those before it. */
  private reconcile(list: HeartbeatContract[], seq: number, source: "push" | "heartbeat"): Promise<void> {
    const run = this.chain.then(() => this.applyList(list, seq, source));
    this.chain = run.catch((e) => {
      this.log.error("reconcile_failed", `applying the contract list failed: ${(e as Error).message}`, { source });
    });
    return this.chain;
  }

  private async applyList(list: HeartbeatContract[], seq: number, source: "push" | "heartbeat"): Promise<void> {
    const server = this.server;
    if (!server || this.signal.aborted) return;
    const plan = planList(list, seq, this.leases, this.rejected, this.gone);
    for (const cid of plan.end) await this.endLease(cid, source);
    for (const cid of plan.forgetRejected) this.rejected.delete(cid);
    for (const cid of plan.sayRejectAgain) this.pendingRejects.add(cid);
    for (const u of plan.seen) {
      const l = this.leases.get(u.id);
      if (!l) continue;
      l.seenSeq = seq;
      l.contract = u.contract;
      if (u.contract.status === "active") l.ready = true;
      if (u.endChanged) server.setEnd(u.id, endsAtMs(u.contract.end_time));
      if (u.needsReady) this.sendReady(u.id);
    }
    // An active contract this agent holds no lease for lost its memory (the agent restarted or
    // crashed): the honest thing is to say so, so the platform fails it over and credits the renter.
    for (const c of plan.lost) this.reject(c, "the lease's memory was lost: the agent restarted", "lease_lost", undefined, {}, seq);
    const pending = plan.fresh;
    if (!pending.length) return;
    const room = await this.room();
    const { hold, reject } = fitContracts(pending, room);
    for (const c of hold) {
      // The lease server is the last word: it may refuse (e.g. a quota it cannot represent).
      try {
        server.open({ contractId: c.id, quotaBytes: (c.ram_gb + c.vram_gb) * GIB, endsAt: endsAtMs(c.end_time) });
      } catch (e) {
        this.reject(c, `the lease server could not open it: ${(e as Error).message}`, "open_failed");
        continue;
      }
      this.leases.set(c.id, { contract: c, seenSeq: seq, ready: false, readyInFlight: false, readyAttempts: 0, readyTimer: null });
      this.log.info("contract_held", `holding contract ${c.id} (${gb(c.ram_gb)} RAM, ${gb(c.vram_gb)} VRAM)`, {
        contract_id: c.id,
        ram_gb: c.ram_gb,
        vram_gb: c.vram_gb,
        end_time: c.end_time,
        source,
      });
      this.sendReady(c.id);
    }
    // What is left once the contracts that fit are held: the figure a rejected one did not fit in.
    const left = {
      ram_gb: room.ram_gb - hold.reduce((a, c) => a + c.ram_gb, 0),
      vram_gb: room.vram_gb - hold.reduce((a, c) => a + c.vram_gb, 0),
    };
    for (const c of reject) {
      const vramWhy = c.vram_gb > 0 && this.config.simulate_vram_gb === undefined ? ` (${NO_VRAM_BACKEND})` : "";
      this.reject(
        c,
        `only ${gb(left.ram_gb)} RAM, ${gb(left.vram_gb)} VRAM free beyond the reserve and the leases held${vramWhy}`,
        "no_capacity",
        `cannot hold contract ${c.id} (${gb(c.ram_gb)} RAM, ${gb(c.vram_gb)} VRAM): only ${gb(left.ram_gb)} RAM, ${gb(left.vram_gb)} VRAM free beyond the reserve and the leases held${vramWhy}; rejecting it`,
        { offered_ram_gb: left.ram_gb, offered_vram_gb: left.vram_gb },
      );
    }
  }

  /** Tells the server at once; where that fails, the next heartbeat's `rejected_contracts` says it. */
  private reject(
    c: HeartbeatContract,
    reason: string,
    kind: string,
    message?: string,
    fields: Record<string, unknown> = {},
    seq = this.listSeq,
  ): void {
    this.rejected.set(c.id, seq);
    this.forget(c.id);
    this.log.warn("contract_rejected", message ?? `rejecting contract ${c.id} (${gb(c.ram_gb)} RAM, ${gb(c.vram_gb)} VRAM): ${reason}`, {
      contract_id: c.id,
      ram_gb: c.ram_gb,
      vram_gb: c.vram_gb,
      reason: kind,
      ...fields,
    });
    const id = this.nodeId as string;
    this.api.contractReject(id, c.id, reason).then(
      () =>
        this.log.info("contract_reject_sent", `contract ${c.id} rejected: the platform fails it over, the renter is not charged`, {
          contract_id: c.id,
        }),
      (e) => {
        // 409: already ended, nothing to undo. Anything else: the heartbeat carries the refusal.
        if (e instanceof ApiError && e.status === 409) return;
        this.pendingRejects.add(c.id);
      },
    );
  }

  /** POST …/ready until it is accepted, the contract goes away, or the agent stops. */
  private sendReady(cid: string): void {
    const l = this.leases.get(cid);
    if (!l || l.ready || l.readyInFlight || l.readyTimer || this.signal.aborted) return;
    l.readyInFlight = true;
    l.readyAttempts++;
    const id = this.nodeId as string;
    this.api.contractReady(id, cid).then(
      (res) => {
        l.readyInFlight = false;
        if (this.leases.get(cid) !== l) return;
        l.ready = true;
        const end = res?.contract?.end_time ?? null;
        if (end && end !== l.contract.end_time) {
          l.contract = { ...l.contract, end_time: end, status: "active" };
          this.server?.setEnd(cid, endsAtMs(end));
        }
        this.log.info("contract_ready", `contract ${cid} is active: the renter can connect to ${this.endpoint}`, {
          contract_id: cid,
          end_time: end,
          endpoint: this.endpoint,
        });
      },
      (e) => {
        l.readyInFlight = false;
        if (this.leases.get(cid) !== l || this.signal.aborted) return;
        if (e instanceof ApiError && (e.status === 409 || e.status === 404 || e.status === 410)) {
          // The contract ended (cancelled, timed out, failed over) before it could start.
          this.log.warn(
            "contract_ready_refused",
            `contract ${cid} can no longer start (${e.status} ${e.code}: ${e.message}); closing its lease`,
            { contract_id: cid, status: e.status },
          );
          void this.chain.then(() => this.endLease(cid, "ready_refused"));
          return;
        }
        const wait = backoffSec(l.readyAttempts);
        this.log.warn(
          "contract_ready_retry",
          `telling the server contract ${cid} is ready failed (${e.message}); retrying in ${wait.toFixed(1)} s`,
          {
            contract_id: cid,
            retry_in_sec: Number(wait.toFixed(3)),
          },
        );
        l.readyTimer = setTimeout(() => {
          l.readyTimer = null;
          this.sendReady(cid);
        }, wait * 1000);
      },
    );
  }

  /** Never to be opened again (bounded: the oldest ids, long settled, drop out first). */
  private forget(cid: string): void {
    this.gone.add(cid);
    if (this.gone.size > MAX_GONE) this.gone.delete(this.gone.values().next().value as string);
  }

  private async endLease(cid: string, source: string): Promise<void> {
    const l = this.leases.get(cid);
    const server = this.server;
    if (!l || !server) return;
    if (l.readyTimer) clearTimeout(l.readyTimer);
    this.leases.delete(cid);
    this.forget(cid);
    const r = await server.end(cid);
    this.receipts.set(cid, r);
    this.log.info(
      "contract_ended",
      `contract ${cid} ended (${gb(l.contract.ram_gb)} RAM, ${gb(l.contract.vram_gb)} VRAM released); lease wiped: ${plural(r.keys, "key")}, ${r.bytes_in} B in, ${r.bytes_out} B out, digest ${r.digest.slice(0, 12)}…`,
      { contract_id: cid, ram_gb: l.contract.ram_gb, vram_gb: l.contract.vram_gb, source, receipt: r },
    );
  }

  /** Live counters of every open lease, then the receipts still owed (receipts first when over the cap). */
  private leaseReports(): { reports: LeaseReport[]; receiptIds: string[] } {
    const finals = [...this.receipts.values()].slice(0, MAX_REPORTS).map(receiptReport);
    const live: LeaseReport[] = (this.server?.counters() ?? [])
      .filter((c) => !this.receipts.has(c.contract_id))
      .slice(0, MAX_REPORTS - finals.length)
      .map((c) => ({
        contract_id: c.contract_id,
        bytes_in: c.bytes_in,
        bytes_out: c.bytes_out,
        keys: c.keys,
        used_bytes: c.used_bytes,
        final: false,
      }));
    return { reports: [...finals, ...live], receiptIds: finals.map((r) => r.contract_id) };
  }

  /** One heartbeat, with its retries; returns the seconds to wait before the next. */
  private async beat(idle: boolean): Promise<number> {
    const id = this.nodeId as string;
    const s = await this.sample(true);
    await this.chain; // counters and room after every list already received
    const offered = await this.room(idle, false);
    const rejects = [...this.pendingRejects];
    const { reports, receiptIds } = this.leaseReports();
    const body: HeartbeatBody = {
      available_ram_gb: offered.ram_gb,
      available_vram_gb: offered.vram_gb,
      ...(s.cpuUsagePct !== null ? { cpu_usage_pct: s.cpuUsagePct } : {}),
      ...(s.gpuUsagePct !== null ? { gpu_usage_pct: s.gpuUsagePct } : {}),
      ...(s.temperatureC !== null ? { temperature_c: s.temperatureC } : {}),
      ...(rejects.length ? { rejected_contracts: rejects } : {}),
      ...(this.endpoint ? { endpoint: this.endpoint } : {}),
      ...(reports.length ? { lease_reports: reports } : {}),
    };
    let res: HeartbeatResponse;
    const seq = ++this.listSeq;
    try {
      res = await this.withRetry("heartbeat", () => this.api.heartbeat(id, body));
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      if (e.status === 401 || e.status === 403) throw authFailure(e, this.configPath, `sending node ${id}'s heartbeat`);
      if (e.status === 410) {
        // Retired for good by its owner (DELETE /api/nodes/{id}): its contracts were failed over, so
        // nothing here is worth keeping, and a new node must be a deliberate choice, not a retry.
        await this.stopServing("node retired");
        throw new FatalError(
          `Node ${id} was retired by its owner (410 ${e.code}); to offer this machine again, remove node_id from ${this.configPath} and start again to register a new node.`,
        );
      }
      if (e.status === 404) {
        this.log.warn("node_missing", `node ${id} no longer exists on the server; registering a new node`, { node_id: id });
        // The leases belonged to the old node (their tokens name it): wipe them and start afresh.
        await this.stopServing("node missing");
        this.receipts.clear();
        this.pendingRejects.clear();
        this.rejected.clear();
        this.endpoint = null;
        await this.register(s);
        await this.startServing();
        return 0;
      }
      // A 4xx the agent cannot fix by itself (e.g. a server that changed its schema): keep the
      // node alive in the owner's logs, and try again later rather than exit.
      this.failures++;
      const wait = backoffSec(this.failures);
      this.log.error("heartbeat_refused", `heartbeat refused: ${e.message} (${e.status} ${e.code}); retrying in ${wait.toFixed(1)} s`, {
        status: e.status,
        code: e.code,
        details: e.details,
      });
      return wait;
    }
    this.failures = 0;
    for (const r of rejects) this.pendingRejects.delete(r);
    for (const cid of receiptIds) this.receipts.delete(cid);
    this.nodeStatus = res.status ?? this.nodeStatus;
    await this.reconcile(res.contracts ?? [], seq, "heartbeat");
    await this.refreshEarnings();

    const interval = Math.max(res.next_heartbeat_sec || DEFAULT_INTERVAL_SEC, this.config.heartbeat_interval ?? 0);
    const heldList = [...this.leases.values()].map((l) => l.contract);
    const heldRam = heldList.reduce((a, c) => a + c.ram_gb, 0);
    const heldVram = heldList.reduce((a, c) => a + c.vram_gb, 0);
    const statusNote = res.status && res.status !== "active" ? ` · node ${res.status}` : "";
    const receiptNote = receiptIds.length ? ` · ${plural(receiptIds.length, "receipt")} reported` : "";
    this.log.info(
      "heartbeat",
      `heartbeat: offering ${gb(offered.ram_gb)} RAM, ${gb(offered.vram_gb)} VRAM · ${plural(heldList.length, "contract")}` +
        `${heldList.length ? ` (${gb(heldRam)} RAM, ${gb(heldVram)} VRAM)` : ""} · earned ${formatUsd(this.earnedUsd)}${statusNote}${receiptNote} · next in ${interval} s`,
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
        endpoint: this.endpoint,
        lease_reports: reports.length,
        receipts_reported: receiptIds,
        push_connected: this.push?.connected ?? false,
        earned_usd: this.earnedUsd,
        next_heartbeat_sec: interval,
      },
    );
    return interval;
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

  /**
   * Wipes every lease (connections closed, digest, zero-fill), reports the receipts in one last
   * heartbeat (logged in full where the server will not take it), then takes the node off the
   * market so no contract lands on a machine that is going away.
   */
  private async shutdown(): Promise<number> {
    const deadline = Date.now() + SHUTDOWN_BUDGET_MS;
    const left = () => Math.max(500, deadline - Date.now());
    const wiped = await this.stopServing("stopping");
    if (!this.nodeId) {
      this.log.info("stopped", "stopped before the node was registered");
      return 0;
    }
    const id = this.nodeId;
    if (wiped.length) {
      this.log.info("leases_wiped", `${plural(wiped.length, "lease")} closed and wiped`, { contracts: wiped.map((r) => r.contract_id) });
    }
    if (this.receipts.size) {
      const { reports, receiptIds } = this.leaseReports();
      try {
        const s = await this.sample();
        const body: HeartbeatBody = {
          available_ram_gb: 0,
          available_vram_gb: 0,
          lease_reports: reports,
          ...(this.endpoint ? { endpoint: this.endpoint } : {}),
          ...(s.cpuUsagePct !== null ? { cpu_usage_pct: s.cpuUsagePct } : {}),
        };
        try {
          await this.api.heartbeat(id, body, { timeoutMs: left() });
        } catch (e) {
          // Too soon after the last heartbeat: wait for the server's Retry-After when it fits the budget.
          if (
            !(e instanceof ApiError && e.status === 429 && e.retryAfterSec !== null && e.retryAfterSec * 1000 < deadline - Date.now() - 500)
          )
            throw e;
          await new Promise((r) => setTimeout(r, (e.retryAfterSec as number) * 1000));
          await this.api.heartbeat(id, body, { timeoutMs: left() });
        }
        for (const cid of receiptIds) this.receipts.delete(cid);
        this.log.info("receipts_reported", `${plural(receiptIds.length, "lease receipt")} reported in a last heartbeat`, {
          contracts: receiptIds,
        });
      } catch (e) {
        const why = e instanceof ApiError ? `${e.status} ${e.code}` : (e as Error).message;
        // Not lost: the owner's log keeps every receipt, and the renter can compare digests.
        this.log.warn("receipts_unreported", `the server did not take the last heartbeat (${why}); the lease receipts are logged here`, {
          receipts: [...this.receipts.values()],
        });
      }
    }
    // The memory is gone: fail the contracts over now (the renter pays only for the time held and
    // gets a replacement) rather than bill them until the node is found silent minutes later.
    if (wiped.length) {
      const results = await Promise.allSettled(
        wiped.map((r) =>
          this.api.contractReject(id, r.contract_id, "the provider's agent stopped; the lease was wiped", { timeoutMs: left() }),
        ),
      );
      const failed = wiped.filter((_, i) => results[i].status === "rejected").map((r) => r.contract_id);
      this.log.info(
        "contracts_released",
        `${plural(wiped.length - failed.length, "contract")} handed back to the market for failover${failed.length ? `; ${failed.length} not (the node's silence will fail them over)` : ""}`,
        {
          contracts: wiped.map((r) => r.contract_id),
          not_released: failed,
        },
      );
    }
    try {
      await this.api.updateNode(id, { status: "maintenance" }, { timeoutMs: left() });
      const note = wiped.length ? `; ${plural(wiped.length, "lease")} wiped` : "";
      this.log.info("stopped", `node ${id} set to maintenance; stopped${note}`, { node_id: id, status: "maintenance", held: wiped.length });
    } catch (e) {
      this.log.warn(
        "stopped",
        `stopped, but could not set node ${id} to maintenance (${(e as Error).message}); it will go offline when heartbeats stop`,
        {
          node_id: id,
        },
      );
    }
    return 0;
  }
}
