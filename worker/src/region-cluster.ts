/**
 * One RegionCluster per region (idFromName(region)): the single writer of the region's live
 * capacity. Reserving is one synchronous check-and-write against this object's own SQLite storage
 * (no await between the check and the write), so concurrent requests can never together
 * over-commit a node. D1 stays the system of record; this object holds the live view, answers
 * matching from memory, runs the region's clock (alarms) and its WebSockets.
 */
import { DurableObject } from "cloudflare:workers";
import { config, type Env } from "./env";
import { NodeIndex } from "./domain/spatial-index";
import type { Candidate, MatchRequest } from "./domain/matching";
import type { OfferFilter } from "./domain/matching";
import { availableOf, type NodeLive, type NodeSnapshot, type Reservation, type ReserveResult } from "./domain/capacity";
import { loadRegionFromD1, runRegionSweeps } from "./contracts/sweeps";
import { rollupRegion, type RegionRollup } from "./domain/rollup";
import { nodeContracts } from "./nodes/push";
import type { CreatedNotice } from "./region/client";

const PROVISIONAL_TTL_MS = 120_000;
/** Tag of every node agent's push socket (besides `node:<id>`). */
const NODE_SOCKETS = "nodes";
/**
 * Agents hear from their socket about once a minute (the alarm's cadence rounds it up), so a silently
 * dead connection is noticed, under the ~100 s idle limit of proxies; not more often, since at 60,000
 * nodes a region would send 60,000 pings each round.
 */
const NODE_PING_EVERY_MS = 55_000;

export class RegionCluster extends DurableObject<Env> {
  private region: string | null = null;
  private nodes = new Map<string, NodeSnapshot>();
  private reservations = new Map<string, Reservation>();
  private heldByNode = new Map<string, { ram: number; vram: number }>();
  private index = new NodeIndex();
  private sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
      this.sql.exec(`CREATE TABLE IF NOT EXISTS nodes (id TEXT PRIMARY KEY, data TEXT NOT NULL)`);
      this.sql.exec(
        `CREATE TABLE IF NOT EXISTS reservations (contract_id TEXT PRIMARY KEY, node_id TEXT NOT NULL, ram_gb INTEGER NOT NULL, vram_gb INTEGER NOT NULL,
          client_user_id TEXT NOT NULL, state TEXT NOT NULL, end_time INTEGER, created_at INTEGER NOT NULL)`,
      );
      const meta = this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'region'`).toArray()[0];
      this.region = meta?.value ?? null;
      for (const row of this.sql.exec<{ data: string }>(`SELECT data FROM nodes`)) {
        const n = JSON.parse(row.data) as NodeSnapshot;
        this.nodes.set(n.id, n);
      }
      for (const r of this.sql.exec<{
        contract_id: string;
        node_id: string;
        ram_gb: number;
        vram_gb: number;
        client_user_id: string;
        state: string;
        end_time: number | null;
        created_at: number;
      }>(`SELECT * FROM reservations`)) {
        this.addHeld({
          contractId: r.contract_id,
          nodeId: r.node_id,
          ramGb: r.ram_gb,
          vramGb: r.vram_gb,
          clientUserId: r.client_user_id,
          state: r.state as Reservation["state"],
          endTime: r.end_time,
          createdAt: r.created_at,
        });
      }
      for (const n of this.nodes.values()) this.index.upsert(this.candidate(n));
    });
  }

  /**
   * The first call names the region; a fresh object (new deployment, lost storage) rebuilds its
   * view from D1, the system of record, before answering anything.
   */
  private async ensureRegion(region: string): Promise<void> {
    if (this.region === region) return;
    if (this.region !== null) throw new Error(`region object ${this.region} asked about ${region}`);
    await this.ctx.blockConcurrencyWhile(async () => {
      if (this.region !== null) return;
      const { nodes, reservations } = await loadRegionFromD1(this.env, region);
      for (const n of nodes) this.writeNode(n);
      for (const r of reservations) this.writeReservation(r);
      this.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('region', ?)`, region);
      this.region = region;
      await this.scheduleAlarm(Date.now() + 1000);
    });
  }

  // ---- capacity ---------------------------------------------------------------------------

  private addHeld(r: Reservation) {
    this.reservations.set(r.contractId, r);
    const h = this.heldByNode.get(r.nodeId) ?? { ram: 0, vram: 0 };
    h.ram += r.ramGb;
    h.vram += r.vramGb;
    this.heldByNode.set(r.nodeId, h);
  }

  private removeHeld(r: Reservation) {
    this.reservations.delete(r.contractId);
    const h = this.heldByNode.get(r.nodeId);
    if (h) {
      h.ram -= r.ramGb;
      h.vram -= r.vramGb;
      if (h.ram <= 0 && h.vram <= 0) this.heldByNode.delete(r.nodeId);
    }
  }

  private live(n: NodeSnapshot): NodeLive {
    const h = this.heldByNode.get(n.id) ?? { ram: 0, vram: 0 };
    return { ...n, heldRamGb: h.ram, heldVramGb: h.vram, ...availableOf(n, h.ram, h.vram) };
  }

  private candidate(n: NodeSnapshot): Candidate {
    const l = this.live(n);
    return {
      id: n.id,
      name: n.name,
      nodeType: n.nodeType,
      region: n.region,
      latitude: n.latitude,
      longitude: n.longitude,
      availableRamGb: l.availableRamGb,
      availableVramGb: l.availableVramGb,
      priceNano: n.priceNano,
      uptimeScore: n.uptimeScore,
      status: n.status,
      baseLatencyMs: n.baseLatencyMs,
    };
  }

  private writeNode(n: NodeSnapshot) {
    this.nodes.set(n.id, n);
    this.sql.exec(`INSERT OR REPLACE INTO nodes (id, data) VALUES (?, ?)`, n.id, JSON.stringify(n));
    this.index.upsert(this.candidate(n));
  }

  private writeReservation(r: Reservation) {
    const old = this.reservations.get(r.contractId);
    if (old) this.removeHeld(old);
    this.addHeld(r);
    this.sql.exec(
      `INSERT OR REPLACE INTO reservations (contract_id, node_id, ram_gb, vram_gb, client_user_id, state, end_time, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      r.contractId,
      r.nodeId,
      r.ramGb,
      r.vramGb,
      r.clientUserId,
      r.state,
      r.endTime,
      r.createdAt,
    );
    const n = this.nodes.get(r.nodeId);
    if (n) this.index.upsert(this.candidate(n));
  }

  private dropReservation(contractId: string): Reservation | null {
    const r = this.reservations.get(contractId);
    if (!r) return null;
    this.removeHeld(r);
    this.sql.exec(`DELETE FROM reservations WHERE contract_id = ?`, contractId);
    const n = this.nodes.get(r.nodeId);
    if (n) this.index.upsert(this.candidate(n));
    return r;
  }

  /** Registers or refreshes a node (register, update, heartbeat, status change). */
  async upsertNode(snapshot: NodeSnapshot): Promise<NodeLive> {
    await this.ensureRegion(snapshot.region);
    const before = this.nodes.get(snapshot.id);
    this.writeNode(snapshot);
    if (
      !before ||
      before.priceNano !== snapshot.priceNano ||
      before.status !== snapshot.status ||
      before.reportedRamGb !== snapshot.reportedRamGb ||
      before.reportedVramGb !== snapshot.reportedVramGb
    ) {
      this.marketChanged();
    }
    await this.scheduleAlarm(Date.now() + this.tickMs());
    return this.live(snapshot);
  }

  async getNode(region: string, nodeId: string): Promise<NodeLive | null> {
    await this.ensureRegion(region);
    const n = this.nodes.get(nodeId);
    return n ? this.live(n) : null;
  }

  async listNodes(region: string): Promise<NodeLive[]> {
    await this.ensureRegion(region);
    return [...this.nodes.values()].map((n) => this.live(n));
  }

  /**
   * The capacity lock. Everything between the check and the write is synchronous, so two calls
   * can never both see the same free gigabytes.
   */
  async reserve(
    region: string,
    req: { contractId: string; nodeId: string; ramGb: number; vramGb: number; clientUserId: string },
  ): Promise<ReserveResult> {
    await this.ensureRegion(region);
    // ---- no await below this line until the reservation is written ----
    const n = this.nodes.get(req.nodeId);
    if (!n) return { ok: false, reason: "unknown_node", availableRamGb: 0, availableVramGb: 0 };
    const live = this.live(n);
    if (this.reservations.has(req.contractId))
      return { ok: true, availableRamGb: live.availableRamGb, availableVramGb: live.availableVramGb };
    if (n.status !== "active")
      return { ok: false, reason: "node_unavailable", availableRamGb: live.availableRamGb, availableVramGb: live.availableVramGb };
    if (live.availableRamGb < req.ramGb || live.availableVramGb < req.vramGb) {
      return { ok: false, reason: "insufficient_capacity", availableRamGb: live.availableRamGb, availableVramGb: live.availableVramGb };
    }
    this.writeReservation({ ...req, state: "provisional", endTime: null, createdAt: Date.now() });
    const after = this.live(n);
    this.marketChanged();
    return { ok: true, availableRamGb: after.availableRamGb, availableVramGb: after.availableVramGb };
  }

  /** The contract row exists in D1: the reservation is now a hold. */
  async confirm(region: string, contractId: string): Promise<boolean> {
    await this.ensureRegion(region);
    const wake = this.hold(contractId);
    if (wake === null) return false;
    await this.scheduleAlarm(wake);
    return true;
  }

  /**
   * Makes a reservation a hold; null if there is none, else when the alarm must wake for it: when
   * the node's time to make a pending contract ready runs out (the sweep fails it over if it did not).
   */
  private hold(contractId: string): number | null {
    const r = this.reservations.get(contractId);
    if (!r) return null;
    if (r.state !== "held") this.writeReservation({ ...r, state: "held" });
    return r.endTime === null ? r.createdAt + config(this.env).leaseReadyTimeoutSec * 1000 + 50 : Number.POSITIVE_INFINITY;
  }

  /**
   * After creations committed in D1, many in one call (region/client.ts gathers a burst of them):
   * each reservation becomes a hold, each renter's sockets here hear of their contract, and each
   * node's agent gets its new list once. A notice that arrives after its contract moved on (it was
   * activated, or ended and released, by a request that was quicker than the gathering) is stale:
   * its "pending" update is not sent, since the renter has already heard the newer state. Returns
   * the contracts whose update was still current, for the renters' home regions.
   */
  async afterCreate(region: string, created: CreatedNotice[]): Promise<string[]> {
    await this.ensureRegion(region);
    const current: string[] = [];
    let wake = Number.POSITIVE_INFINITY;
    for (const c of created) {
      const r = this.reservations.get(c.contractId);
      if (!r || r.endTime !== null) continue;
      wake = Math.min(wake, this.hold(c.contractId) ?? wake);
      this.sendToUser(c.userId, c.message);
      current.push(c.contractId);
    }
    if (wake < Number.POSITIVE_INFINITY) await this.scheduleAlarm(wake);
    await Promise.all([...new Set(created.map((c) => c.nodeId))].map((nodeId) => this.pushNodeContracts(region, nodeId)));
    return current;
  }

  /** The contract became active: remember when its term ends so the alarm can expire it. */
  async activate(region: string, contractId: string, endTime: number): Promise<void> {
    await this.ensureRegion(region);
    const r = this.reservations.get(contractId);
    if (r) this.writeReservation({ ...r, state: "held", endTime });
    await this.scheduleAlarm(endTime);
  }

  async release(region: string, contractId: string): Promise<boolean> {
    await this.ensureRegion(region);
    const dropped = this.dropReservation(contractId) !== null;
    if (dropped) this.marketChanged();
    return dropped;
  }

  /**
   * The reconciler found a D1 contract that is pending or active but unknown here (storage lost,
   * a release that should not have happened): hold its capacity again. No capacity check on
   * purpose: the contract already occupies that memory on the node.
   */
  async rehold(region: string, r: Reservation): Promise<boolean> {
    await this.ensureRegion(region);
    if (this.reservations.has(r.contractId)) return false;
    this.writeReservation({ ...r, state: "held" });
    this.marketChanged();
    return true;
  }

  /** A heartbeat: the node's reported free memory (never touching what contracts hold). */
  async heartbeat(region: string, nodeId: string, report: Partial<NodeSnapshot>): Promise<NodeLive | null> {
    await this.ensureRegion(region);
    const n = this.nodes.get(nodeId);
    if (!n) return null;
    const next = { ...n, ...report, id: n.id, region: n.region };
    return this.upsertNode(next);
  }

  // ---- matching and roll-ups ---------------------------------------------------------------

  async match(region: string, req: MatchRequest) {
    await this.ensureRegion(region);
    return this.index.match(req);
  }

  async browse(region: string, filter: OfferFilter, page?: { limit: number; offset: number }) {
    await this.ensureRegion(region);
    return this.index.browse(filter, page);
  }

  async rollup(region: string): Promise<RegionRollup> {
    await this.ensureRegion(region);
    return rollupRegion(
      region,
      [...this.nodes.values()].map((n) => this.live(n)),
      this.reservations.size,
    );
  }

  // ---- the region's clock ------------------------------------------------------------------

  private tickMs(): number {
    const offlineAfter = config(this.env).nodeOfflineAfterSec;
    // Check often enough to notice silence within a third of the allowed time, and meter each minute.
    return Math.max(250, Math.min(30_000, Math.floor((offlineAfter * 1000) / 3)));
  }

  private async scheduleAlarm(at: number) {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || at < current) await this.ctx.storage.setAlarm(at);
  }

  override async alarm(): Promise<void> {
    if (!this.region) return;
    const now = Date.now();
    this.pingNodeSockets(now);
    // Reservations whose contract never reached D1 (the request died half-way) are given back.
    const stale = [...this.reservations.values()].filter((r) => r.state === "provisional" && now - r.createdAt > PROVISIONAL_TTL_MS);
    const result = await runRegionSweeps(
      this.env,
      this.region,
      this,
      now,
      stale.map((r) => r.contractId),
    );
    const nextEnd = [...this.reservations.values()].reduce<number | null>(
      (min, r) => (r.endTime !== null && r.endTime > now && (min === null || r.endTime < min) ? r.endTime : min),
      null,
    );
    let next = now + this.tickMs();
    if (nextEnd !== null && nextEnd < next) next = nextEnd;
    if (result.wakeAt !== null && result.wakeAt < next) next = Math.max(now + 100, result.wakeAt);
    if (this.nodes.size > 0 || this.reservations.size > 0) await this.ctx.storage.setAlarm(next);
  }

  /** Lets tests and the sweeps see the reservations of the region. */
  async reservationsOf(region: string): Promise<Reservation[]> {
    await this.ensureRegion(region);
    return [...this.reservations.values()];
  }

  // ---- real time ---------------------------------------------------------------------------

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket upgrade", { status: 426 });
    const nodeId = request.headers.get("x-mnemo-node-id");
    if (nodeId) return this.acceptNodeSocket(request, nodeId);
    const clientUserId = request.headers.get("x-mnemo-user-id");
    const region = request.headers.get("x-mnemo-region");
    if (!clientUserId || !region) return new Response("missing identity", { status: 400 });
    await this.ensureRegion(region);
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1], [`user:${clientUserId}`]);
    const protocol = request.headers.get("x-mnemo-protocol");
    pair[1].send(JSON.stringify({ type: "hello", data: { region } }));
    return new Response(null, { status: 101, webSocket: pair[0], headers: protocol ? { "sec-websocket-protocol": protocol } : {} });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (message === "ping") ws.send("pong");
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "bye");
    } catch {
      /* already closed */
    }
  }

  // ---- the push channel to node agents (nodes/push.ts) ---------------------------------------

  private async acceptNodeSocket(request: Request, nodeId: string): Promise<Response> {
    const region = request.headers.get("x-mnemo-region");
    if (!region) return new Response("missing region", { status: 400 });
    await this.ensureRegion(region);
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1], [`node:${nodeId}`, NODE_SOCKETS]);
    // The list right after the socket opens; the agent reconciles its leases against it.
    await this.pushNodeContracts(region, nodeId);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  private nodePushes = new Map<string, { again: boolean }>();
  private lastNodePing = 0;

  private pingNodeSockets(now: number) {
    if (now - this.lastNodePing < NODE_PING_EVERY_MS) return;
    this.lastNodePing = now;
    for (const ws of this.ctx.getWebSockets(NODE_SOCKETS)) {
      try {
        ws.send(`{"type":"ping"}`);
      } catch {
        /* closed */
      }
    }
  }

  /**
   * Sends the node's sockets its current contract list, read from D1 here rather than by the
   * caller: pushes for one node run one at a time, and a change that lands during a read triggers
   * one more read, so the last list an agent gets is never older than the last change.
   */
  async pushNodeContracts(region: string, nodeId: string): Promise<number> {
    await this.ensureRegion(region);
    const tag = `node:${nodeId}`;
    if (this.ctx.getWebSockets(tag).length === 0) return 0;
    const running = this.nodePushes.get(nodeId);
    if (running) {
      running.again = true;
      return 0;
    }
    const state = { again: true };
    this.nodePushes.set(nodeId, state);
    let sent = 0;
    try {
      for (let round = 0; state.again && round < 100; round++) {
        state.again = false;
        const text = JSON.stringify({ type: "contracts", data: { contracts: await nodeContracts(this.env, nodeId) } });
        for (const ws of this.ctx.getWebSockets(tag)) {
          try {
            ws.send(text);
            sent++;
          } catch {
            /* closed between listing and sending */
          }
        }
      }
    } finally {
      this.nodePushes.delete(nodeId);
    }
    return sent;
  }

  /** contract_update for one client's sockets here. */
  async notifyUser(userId: string, message: { type: string; data: unknown }): Promise<number> {
    return this.sendToUser(userId, message);
  }

  /** contract_update for many clients' sockets here, in one call (region/client.ts gathers them). */
  async notifyUsers(updates: { userId: string; message: { type: string; data: unknown } }[]): Promise<number> {
    let sent = 0;
    for (const u of updates) sent += this.sendToUser(u.userId, u.message);
    return sent;
  }

  private sendToUser(userId: string, message: { type: string; data: unknown }): number {
    const sockets = this.ctx.getWebSockets(`user:${userId}`);
    const text = JSON.stringify(message);
    for (const ws of sockets) {
      try {
        ws.send(text);
      } catch {
        /* closed between listing and sending */
      }
    }
    return sockets.length;
  }

  private marketPending = false;
  /** market_update, coalesced: a burst of reservations makes one message, not hundreds. */
  private marketChanged() {
    if (this.marketPending || this.ctx.getWebSockets().length === 0) return;
    this.marketPending = true;
    setTimeout(() => {
      this.marketPending = false;
      if (!this.region) return;
      const payload = { type: "market_update", data: this.marketSummary() };
      const text = JSON.stringify(payload);
      for (const ws of this.ctx.getWebSockets()) {
        if (this.ctx.getTags(ws).includes(NODE_SOCKETS)) continue; // agents get contracts, not market news
        try {
          ws.send(text);
        } catch {
          /* closed */
        }
      }
    }, 250);
  }

  private marketSummary() {
    let availRam = 0,
      availVram = 0,
      active = 0,
      priceSum = 0;
    for (const n of this.nodes.values()) {
      if (n.status !== "active") continue;
      const l = this.live(n);
      active++;
      availRam += l.availableRamGb;
      availVram += l.availableVramGb;
      priceSum += n.priceNano;
    }
    return {
      region: this.region,
      active_nodes: active,
      available_ram_gb: availRam,
      available_vram_gb: availVram,
      avg_price_per_gb_sec: active ? priceSum / active / 1e9 : 0,
    };
  }
}
