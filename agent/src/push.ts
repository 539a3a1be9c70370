/**
 * The push channel: a WebSocket to `GET /ws/nodes/{id}` on which the server sends this node's
 * full contract list the moment it changes, so a new lease is opened (and made ready) within a
 * second of the renter's `create` instead of at the next heartbeat. Heartbeats carry the same list
 * and stay the fallback: losing this socket costs latency, never correctness.
 */
import { backoffSec } from "./backoff.ts";
import type { HeartbeatContract } from "./api.ts";
import type { Logger } from "./log.ts";

export interface PushOptions {
  apiUrl: string;
  apiKey: string;
  nodeId: string;
  logger: Logger;
  /** Called with every `contracts` message, in the order received. */
  onContracts: (contracts: HeartbeatContract[]) => void;
  /** Test hook: the delay before reconnect attempt `n` (default: the agent's backoff). */
  backoff?: (attempt: number) => number;
  /**
   * A socket silent this long is taken for dead (a NAT or proxy that dropped it without a FIN) and
   * replaced. The server pings about once a minute; default 3 minutes.
   */
  silentLimitMs?: number;
}

/** A socket that stayed up this long was healthy: the next drop starts the backoff from 1 s again. */
const HEALTHY_AFTER_MS = 30_000;

export function pushUrl(apiUrl: string, nodeId: string): string {
  const u = new URL(apiUrl);
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  u.pathname = `${u.pathname.replace(/\/+$/, "")}/ws/nodes/${encodeURIComponent(nodeId)}`;
  u.search = "";
  return u.toString();
}

export class PushChannel {
  private readonly opts: PushOptions;
  private ws: WebSocket | null = null;
  private timer: NodeJS.Timeout | null = null;
  private attempt = 0;
  private openedAt = 0;
  private closed = false;
  /** Whether the last state change was logged as "connected": log transitions, not every retry. */
  private up = false;
  private warnedDown = false;
  private lastHeardAt = 0;
  private watchdog: NodeJS.Timeout | null = null;
  messages = 0;

  constructor(opts: PushOptions) {
    this.opts = opts;
  }

  get connected(): boolean {
    return this.ws?.readyState === 1;
  }

  start(): void {
    this.closed = false;
    const limit = this.opts.silentLimitMs ?? 180_000;
    this.watchdog = setInterval(
      () => {
        const ws = this.ws;
        if (ws && ws.readyState === 1 && Date.now() - this.lastHeardAt > limit) {
          this.opts.logger.warn("push_silent", `push channel silent for over ${Math.round(limit / 1000)} s; reconnecting`, {
            node_id: this.opts.nodeId,
          });
          this.ws = null;
          try {
            ws.close(4000, "silent");
          } catch {
            /* already closing */
          }
          this.scheduleReconnect("silent");
        }
      },
      Math.min(30_000, Math.max(10, Math.floor(limit / 3))),
    );
    this.watchdog.unref();
    this.connect();
  }

  close(): void {
    this.closed = true;
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    try {
      ws?.close(1000, "agent stopping");
    } catch {
      /* already closing */
    }
  }

  private connect(): void {
    if (this.closed) return;
    const { apiUrl, apiKey, nodeId, logger } = this.opts;
    let ws: WebSocket;
    try {
      // The key goes in a header, never the URL: URLs end up in proxy and server logs.
      ws = new WebSocket(pushUrl(apiUrl, nodeId), { headers: { "X-API-Key": apiKey } });
    } catch (e) {
      this.scheduleReconnect((e as Error).message);
      return;
    }
    this.ws = ws;
    ws.addEventListener("open", () => {
      if (this.ws !== ws) return;
      this.openedAt = Date.now();
      this.lastHeardAt = this.openedAt;
      this.up = true;
      this.warnedDown = false;
      logger.info(
        "push_connected",
        `push channel open: contracts arrive as they are made${this.attempt > 0 ? ` (after ${this.attempt} failed attempt${this.attempt === 1 ? "" : "s"})` : ""}`,
        {
          node_id: nodeId,
          attempts: this.attempt,
        },
      );
    });
    ws.addEventListener("message", (ev) => {
      if (this.ws !== ws) return;
      let msg: { type?: unknown; data?: { contracts?: unknown } };
      try {
        msg = JSON.parse(typeof ev.data === "string" ? ev.data : Buffer.from(ev.data as ArrayBuffer).toString("utf8"));
      } catch {
        logger.warn("push_bad_message", "push channel: a message that is not JSON was ignored");
        return;
      }
      // The server talks: the channel works. (Not at "open": a server that accepts and drops at
      // once must still meet a growing backoff.)
      this.attempt = 0;
      this.lastHeardAt = Date.now();
      // No pong: every message wakes the server's hibernating object, and the ping's only job here
      // is to prove the path is alive (see the watchdog).
      if (msg?.type === "ping") return;
      if (msg?.type !== "contracts") return; // unknown types are for newer agents
      const list = msg.data?.contracts;
      if (!Array.isArray(list)) {
        logger.warn("push_bad_message", "push channel: a contracts message without a contracts list was ignored");
        return;
      }
      this.messages++;
      this.opts.onContracts(list as HeartbeatContract[]);
    });
    ws.addEventListener("error", () => {
      /* the close event follows and carries what there is to say */
    });
    ws.addEventListener("close", (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.closed) return;
      if (this.openedAt && Date.now() - this.openedAt >= HEALTHY_AFTER_MS) this.attempt = 0;
      this.openedAt = 0;
      this.scheduleReconnect(
        ev.code === 1006 ? "connection failed or dropped" : `closed by the server (${ev.code}${ev.reason ? ` ${ev.reason}` : ""})`,
      );
    });
  }

  private scheduleReconnect(why: string): void {
    if (this.closed) return;
    this.attempt++;
    const wait = (this.opts.backoff ?? backoffSec)(this.attempt);
    // One warning when the channel goes down, then quiet retries: heartbeats still deliver.
    if (this.up || !this.warnedDown) {
      this.opts.logger.warn(
        "push_down",
        `push channel ${this.up ? "lost" : "unavailable"} (${why}); heartbeats deliver contracts meanwhile; retrying with backoff`,
        {
          node_id: this.opts.nodeId,
          retry_in_sec: Number(wait.toFixed(3)),
        },
      );
      this.warnedDown = true;
    }
    this.up = false;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, wait * 1000);
  }
}
