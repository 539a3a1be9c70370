// The node's one Redis-protocol listener: every lease held by this node is served here, each
// with its own keyspace, credentials, quota and byte counters.
import { createServer, type Server, type Socket } from "node:net";
import { TokenVerifier } from "./auth.ts";
import { findCommand, NOAUTH, OOM } from "./commands.ts";
import { INLINE_COPY, ProtocolError, Reply, RespParser, written, type ParserPolicy } from "./resp.ts";
import { Keyspace, T_STRING } from "./store.ts";

export interface LeaseSpec {
  contractId: string;
  quotaBytes: number;
  endsAt: number | null; // epoch ms; null while pending
}
export interface LeaseCounters {
  contract_id: string;
  bytes_in: number;
  bytes_out: number;
  keys: number;
  used_bytes: number;
  connections: number;
}
export interface LeaseReceipt {
  contract_id: string;
  bytes_in: number;
  bytes_out: number;
  keys: number;
  used_bytes: number;
  digest: string;
  wiped_at: string;
}
export interface LeaseServerOptions {
  nodeId: string; // the JWT `aud` must equal this
  bind?: string; // default "0.0.0.0"
  port?: number; // default 7379; 0 = any free port
  jwksUrl: string; // `${api_url}/.well-known/jwks.json`
  issuer?: string; // default "mnemo"
  maxUnauthenticatedConnections?: number; // default 1,000
  now?: () => number;
  log?: (event: string, message: string, fields?: Record<string, unknown>) => void;
  /** An unauthenticated connection idle this long is closed (default 10 s). */
  authTimeoutMs?: number;
  /** Connections one lease may hold at once (default 1,000). */
  maxConnectionsPerLease?: number;
  /** Shortest gap between JWKS fetches (default 30 s; tests use less). */
  jwksCooldownMs?: number;
}

/** Documented limits (agent/README.md, "Leases: the Redis-protocol endpoint"). */
export const LIMITS = {
  maxUnauthenticatedConnections: 1000,
  maxConnectionsPerLease: 1000,
  authTimeoutMs: 10_000,
  /** Arguments of one request once authenticated. */
  maxArgs: 65_536,
  /** Before AUTH, as Redis limits an unauthenticated client. */
  unauthMaxArgs: 10,
  unauthMaxBulk: 16_384,
  /**
   * Arguments that are not values being written (keys, names, MGET lists) are not counted
   * against the quota; each command may buffer LOOSE_FREE of them, and beyond that a lease's
   * connections together at most LOOSE_MAX.
   */
  looseFree: 64 * 1024,
  looseMax: 16 * 1024 * 1024,
  /** Replies queued to a client that does not read them: past this we stop reading its requests. */
  outputHighWater: 4 * 1024 * 1024,
};

const OOM_REPLY = Buffer.from(`-${OOM}\r\n`);
const END_GRACE_MS = 0; // connections close at endsAt; the tick adds at most its period (250 ms)

export class Lease {
  readonly id: string;
  readonly quota: number;
  endsAt: number | null;
  readonly ks: Keyspace;
  readonly conns = new Set<Conn>();
  readonly openedAt: number;
  bytesIn = 0;
  bytesOut = 0;
  commands = 0;
  connectionsReceived = 0;
  /** Declared value bytes of writes being received, already counted against the quota. */
  reserved = 0;
  /** Other argument bytes being received (see LIMITS.looseMax). */
  loose = 0;
  receipt: Promise<LeaseReceipt> | null = null;

  constructor(spec: LeaseSpec, now: () => number) {
    this.id = spec.contractId;
    this.quota = spec.quotaBytes;
    this.endsAt = spec.endsAt;
    // Recycled value buffers stay within 4 % of the quota (the RSS rule allows 5 % over it).
    this.ks = new Keyspace(now, Math.min(Math.floor(spec.quotaBytes * 0.04), 64 * 1024 * 1024));
    this.openedAt = now();
  }

  expired(now: number): boolean {
    return this.endsAt !== null && now >= this.endsAt + END_GRACE_MS;
  }
}

let nextConnId = 1;

/**
 * Makes `socket` read into the buffer `next()` returns (asked again after every read) and call
 * `onRead(bytes, buffer)` instead of emitting 'data' — what the `onread` option of net.Socket
 * does. A server cannot pass that option to the sockets it accepts, so it is set on the
 * accepted, still paused socket through the same fields. False, and nothing changed, when this
 * Node does not have them: the caller then uses 'data'.
 */
function useReadBuffer(socket: Socket, first: Buffer, next: () => Buffer, onRead: (n: number, buf: Buffer) => boolean): boolean {
  const s = socket as unknown as Record<symbol, unknown> & { _handle?: { useUserBuffer?: (b: Buffer) => void; reading?: boolean } };
  const syms = Object.getOwnPropertySymbols(socket);
  const kBuffer = syms.find((x) => x.description === "kBuffer");
  const kBufferCb = syms.find((x) => x.description === "kBufferCb");
  const kBufferGen = syms.find((x) => x.description === "kBufferGen");
  const handle = s._handle;
  if (kBuffer === undefined || kBufferCb === undefined || kBufferGen === undefined) return false;
  if (handle === undefined || typeof handle.useUserBuffer !== "function" || handle.reading) return false;
  if (s[kBuffer] !== null || s[kBufferGen] !== null) return false;
  s[kBuffer] = first;
  s[kBufferGen] = next;
  s[kBufferCb] = onRead;
  handle.useUserBuffer(first);
  return true;
}

export class Conn implements ParserPolicy {
  readonly id = nextConnId++;
  readonly server: LeaseServer;
  readonly socket: Socket;
  readonly parser: RespParser;
  readonly reply = new Reply();
  lease: Lease | null = null;
  name: Buffer | null = null;
  private waiting = false; // an AUTH is being verified: later requests wait for it
  private closing = false;
  private inflightReserved = 0;
  private inflightLoose = 0;
  private preAuthIn = 0;
  private authTimer: NodeJS.Timeout | null = null;
  private cmdWrite = false; // the request being read is a write (its values count against the quota)
  private cmdIsSet = false;
  private direct: Buffer | null = null; // the part of a large argument the socket reads into now

  constructor(server: LeaseServer, socket: Socket) {
    this.server = server;
    this.socket = socket;
    this.parser = new RespParser(this);
    socket.setNoDelay(true);
    this.authTimer = setTimeout(() => this.destroy(), server.authTimeoutMs);
    this.authTimer.unref();
    const shared = server.readBuffer;
    if (
      shared !== null &&
      useReadBuffer(
        socket,
        shared,
        () => this.nextReadBuffer(shared),
        (n, buf) => this.onRead(n, buf, shared),
      )
    ) {
      // Reads land in the server's one buffer (no allocation per read); see useReadBuffer.
      server.sharedReads = true;
    } else {
      socket.on("data", (chunk: Buffer) => this.onData(chunk));
    }
    socket.resume(); // the server pauses new connections so the read buffer is set before any read
    socket.on("drain", () => {
      if (!this.waiting && !this.closing) {
        socket.resume();
        this.drain();
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => this.onClose());
  }

  // ---- ParserPolicy: judged before any payload is buffered ----
  maxArgs(): number {
    return this.lease === null ? LIMITS.unauthMaxArgs : LIMITS.maxArgs;
  }
  argsError(): string {
    return this.lease === null ? "unauthenticated multibulk length" : "invalid multibulk length";
  }
  admit(args: Buffer[], index: number, len: number): null | string | Buffer {
    const lease = this.lease;
    if (lease === null) return len > LIMITS.unauthMaxBulk ? "unauthenticated bulk length" : null;
    if (index === 1) {
      const cmd = findCommand(args[0]!);
      this.cmdWrite = cmd !== undefined && cmd.write;
      this.cmdIsSet = cmd !== undefined && cmd.name === "set";
    } else if (index === 0) {
      this.cmdWrite = false;
    }
    if (this.cmdWrite && index >= 2) {
      if (lease.ks.used + lease.reserved + len > lease.quota) {
        // Only when it would not fit: a SET may reuse the bytes of the string it replaces.
        let credit = 0;
        if (index === 2 && this.cmdIsSet) {
          const old = lease.ks.get(args[1]!.toString("latin1"));
          if (old !== undefined && old.type === T_STRING) credit = old.size;
        }
        if (lease.ks.used + lease.reserved + len > lease.quota + credit) return OOM_REPLY;
      }
      lease.reserved += len;
      this.inflightReserved += len;
      return null;
    }
    if (this.inflightLoose + len > LIMITS.looseFree && lease.loose + len > LIMITS.looseMax) return OOM_REPLY;
    lease.loose += len;
    this.inflightLoose += len;
    return null;
  }

  largeBuffer(len: number): Buffer {
    return this.lease?.ks.takeBuffer(len) ?? Buffer.allocUnsafeSlow(len);
  }

  private release(): void {
    const lease = this.lease;
    if (lease !== null) {
      lease.reserved -= this.inflightReserved;
      lease.loose -= this.inflightLoose;
    }
    this.inflightReserved = 0;
    this.inflightLoose = 0;
  }

  /**
   * Where the next read goes: straight into the rest of a large argument being received (one
   * kernel copy, as Redis reads a big bulk into its final buffer), else the shared buffer.
   */
  private nextReadBuffer(shared: Buffer): Buffer {
    const direct = this.closing ? null : this.parser.directTarget();
    this.direct = direct;
    return direct ?? shared;
  }

  private onRead(n: number, buf: Buffer, shared: Buffer): boolean {
    if (buf === this.direct) {
      this.direct = null;
      if (this.closing) return true;
      if (this.lease !== null) this.lease.bytesIn += n;
      else this.preAuthIn += n;
      this.parser.filledDirect(n);
      if (!this.waiting) this.drain();
    } else {
      this.onData(buf.subarray(0, n));
    }
    this.parser.detach(shared.buffer);
    return true;
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    if (this.lease !== null) this.lease.bytesIn += chunk.length;
    else this.preAuthIn += chunk.length;
    this.parser.feed(chunk);
    if (!this.waiting) this.drain();
  }

  /**
   * Runs what is buffered. A bug in one command must never take the agent down with every other
   * lease: it costs this connection only (and is logged).
   */
  private drain(): void {
    try {
      this.drainUnsafe();
    } catch (e) {
      this.server.logEvent("lease_internal_error", e instanceof Error ? (e.stack ?? e.message) : String(e), {
        contract_id: this.lease?.id ?? null,
      });
      this.release();
      this.reply.error("ERR internal error");
      this.closing = true;
      try {
        this.flush();
      } catch {}
      this.socket.destroy();
    }
  }

  /** Runs every complete request buffered, then writes all their replies at once. */
  private drainUnsafe(): void {
    while (!this.waiting && !this.closing) {
      if (this.socket.writableLength > LIMITS.outputHighWater) {
        this.socket.pause(); // resumed on 'drain'
        break;
      }
      let p: ReturnType<typeof this.parser.next>;
      try {
        p = this.parser.next();
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
        this.release();
        this.reply.error(`ERR Protocol error: ${e.message}`);
        this.server.logEvent("lease_protocol_error", e.message, { contract_id: this.lease?.id ?? null });
        this.closing = true;
        this.flush();
        // Close once the error is written; a client that never closes its side cannot hold us.
        this.socket.end(() => this.socket.destroy());
        return;
      }
      if (p === null) break;
      if (p.refused !== null) {
        this.release();
        this.reply.raw(p.refused);
        continue;
      }
      const r = this.exec(p.args);
      this.release();
      // A long pipeline of reads is answered in slices: what one read's worth of requests can
      // make us queue stays bounded, and the check at the top of the loop then pauses reading.
      if (this.reply.bytes > LIMITS.outputHighWater) this.flush();
      if (r !== undefined) {
        this.waiting = true;
        this.socket.pause();
        r.then(
          () => this.resumeAfter(),
          () => this.resumeAfter(),
        );
        break;
      }
    }
    this.flush();
  }

  private resumeAfter(): void {
    this.waiting = false;
    if (this.closing || this.socket.destroyed) return;
    this.socket.resume();
    this.drain();
  }

  private exec(a: Buffer[]): Promise<void> | undefined {
    const cmd = findCommand(a[0]!);
    if (this.lease !== null) this.lease.commands++;
    if (cmd === undefined) {
      let args = "";
      for (let i = 1; i < a.length && args.length < 128; i++) args += `'${a[i]!.toString("latin1").slice(0, 128 - args.length)}' `;
      this.reply.error(`ERR unknown command '${a[0]!.toString("latin1").slice(0, 128)}', with args beginning with: ${args}`);
      return;
    }
    if ((cmd.arity > 0 && a.length !== cmd.arity) || a.length < -cmd.arity) {
      this.reply.error(`ERR wrong number of arguments for '${cmd.name}' command`);
      return;
    }
    let fn = cmd.fn;
    if (cmd.subs !== undefined && a.length >= 2) {
      const sub = cmd.subs.get(a[1]!.toString("latin1").toLowerCase());
      if (sub === undefined) {
        this.reply.error(`ERR unknown subcommand '${a[1]!.toString("latin1").slice(0, 128)}'. Try ${cmd.name.toUpperCase()} HELP.`);
        return;
      }
      if ((sub.arity > 0 && a.length !== sub.arity) || a.length < -sub.arity) {
        this.reply.error(`ERR wrong number of arguments for '${sub.name}' command`);
        return;
      }
      fn = sub.fn;
    }
    if (this.lease === null && !cmd.noauth) {
      this.reply.error(NOAUTH);
      return;
    }
    const r = fn(this, a);
    return r === undefined ? undefined : r;
  }

  /** Binds the connection to the lease the token grants; false (WRONGPASS) for anything else. */
  async authenticate(user: Buffer | null, pass: Buffer): Promise<boolean> {
    const token = pass.toString("latin1");
    const username = user?.toString("latin1") ?? null;
    const sub = await this.server.verifier.verify(token);
    if (sub === null || (username !== null && username !== sub)) return false;
    const lease = this.server.lease(sub);
    if (lease === undefined || lease.receipt !== null || lease.expired(this.server.now())) return false;
    if (this.socket.destroyed || this.closing) return false;
    if (this.lease === lease) return true;
    if (lease.conns.size >= this.server.maxConnectionsPerLease) return false;
    if (this.lease !== null) this.lease.conns.delete(this);
    else this.server.authenticated(this);
    this.lease = lease;
    lease.conns.add(this);
    lease.connectionsReceived++;
    lease.bytesIn += this.preAuthIn;
    this.preAuthIn = 0;
    if (this.authTimer !== null) {
      clearTimeout(this.authTimer);
      this.authTimer = null;
    }
    return true;
  }

  quit(): void {
    this.reply.raw(Buffer.from("+OK\r\n"));
    this.closing = true;
    this.flush();
    this.socket.end(() => this.socket.destroy());
  }

  flush(): void {
    if (this.reply.empty()) return;
    const chunks = this.reply.take();
    const n = this.reply.bytes;
    this.reply.bytes = 0;
    if (this.lease !== null) this.lease.bytesOut += n;
    // A large chunk is a stored value (Reply.raw counted it in `outbound`); the write callback
    // says when the socket is done with it. Dropped chunks stay counted: never recycled.
    if (this.socket.destroyed || !this.socket.writable) return;
    if (chunks.length === 1) {
      const c = chunks[0]!;
      if (c.length >= INLINE_COPY) this.socket.write(c, () => written(c));
      else this.socket.write(c);
    } else {
      this.socket.cork();
      for (const c of chunks) {
        if (c.length >= INLINE_COPY) this.socket.write(c, () => written(c));
        else this.socket.write(c);
      }
      this.socket.uncork();
    }
    // Written synchronously in full (the usual case): the reply block can be reused as it is.
    if (this.socket.writableLength === 0) this.reply.reuse();
  }

  destroy(): void {
    this.closing = true;
    this.socket.destroy();
  }

  private onClose(): void {
    this.closing = true;
    this.release();
    if (this.authTimer !== null) clearTimeout(this.authTimer);
    this.server.closed(this);
  }
}

export class LeaseServer {
  readonly nodeId: string;
  readonly verifier: TokenVerifier;
  readonly now: () => number;
  readonly authTimeoutMs: number;
  readonly maxConnectionsPerLease: number;
  port = 0;
  private readonly opts: LeaseServerOptions;
  private readonly maxUnauth: number;
  private readonly byId = new Map<string, Lease>();
  /** Ended leases keep their receipt so end() stays idempotent (ids only, no data). */
  private readonly ended = new Map<string, Promise<LeaseReceipt>>();
  private readonly unauth = new Set<Conn>();
  private readonly all = new Set<Conn>();
  private server: Server | null = null;
  /**
   * The one buffer every connection reads into. Node otherwise allocates a fresh 64 KiB
   * ArrayBuffer for each read; V8 counts each as external memory and answers the stream of them
   * with full collections — at 1 MiB SETs most of the CPU went there, by the profile. One buffer
   * is enough: JavaScript runs each read's callback to the end before the next read, and the
   * parser copies out what it keeps (RespParser.detach).
   */
  readonly readBuffer: Buffer | null = Buffer.allocUnsafeSlow(64 * 1024);
  /** A connection reads into readBuffer (false: this Node lacked the fields; 'data' is used). */
  sharedReads = false;
  private tick: NodeJS.Timeout | null = null;

  constructor(opts: LeaseServerOptions) {
    this.opts = opts;
    this.nodeId = opts.nodeId;
    this.now = opts.now ?? Date.now;
    this.authTimeoutMs = opts.authTimeoutMs ?? LIMITS.authTimeoutMs;
    this.maxUnauth = opts.maxUnauthenticatedConnections ?? LIMITS.maxUnauthenticatedConnections;
    this.maxConnectionsPerLease = opts.maxConnectionsPerLease ?? LIMITS.maxConnectionsPerLease;
    this.verifier = new TokenVerifier({
      jwksUrl: opts.jwksUrl,
      nodeId: opts.nodeId,
      issuer: opts.issuer ?? "mnemo",
      now: this.now,
      jwksCooldownMs: opts.jwksCooldownMs,
      onUnavailable: (m) => this.logEvent("lease_auth_unavailable", `cannot check lease tokens: ${m}`, { jwks_url: opts.jwksUrl }),
    });
  }

  logEvent(event: string, message: string, fields?: Record<string, unknown>): void {
    this.opts.log?.(event, message, fields);
  }

  /** Starts the one listener for every lease; resolves with the port (useful with port 0). */
  listen(): Promise<{ port: number }> {
    const server = createServer({ noDelay: true, pauseOnConnect: true }, (socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.opts.port ?? 7379, this.opts.bind ?? "0.0.0.0", () => {
        server.off("error", reject);
        server.on("error", (e) => this.logEvent("lease_server_error", e.message));
        this.port = (server.address() as { port: number }).port;
        // One timer for every lease: active expiry and closing connections at the end of term.
        this.tick = setInterval(() => this.onTick(), 100);
        this.tick.unref();
        resolve({ port: this.port });
      });
    });
  }

  private accept(socket: Socket): void {
    if (this.unauth.size >= this.maxUnauth) {
      // Redis's wording when it cannot take another client.
      socket.on("error", () => {});
      socket.end("-ERR max number of clients reached\r\n", () => socket.destroy());
      return;
    }
    const c = new Conn(this, socket);
    this.unauth.add(c);
    this.all.add(c);
  }

  authenticated(c: Conn): void {
    this.unauth.delete(c);
  }

  closed(c: Conn): void {
    this.unauth.delete(c);
    this.all.delete(c);
    c.lease?.conns.delete(c);
  }

  lease(id: string): Lease | undefined {
    return this.byId.get(id);
  }

  private onTick(): void {
    const now = this.now();
    for (const l of this.byId.values()) {
      l.ks.expireSome(200);
      if (l.expired(now) && l.conns.size > 0) {
        for (const c of l.conns) c.destroy();
      }
    }
  }

  /**
   * Opens (allocates bookkeeping for) a lease; idempotent for the same id (a repeat only updates
   * endsAt). Throws on a bad spec, on the same id with another quota, and for a lease already
   * ended here. Memory is taken as the renter writes, so the caller decides what it can hold.
   */
  open(spec: LeaseSpec): void {
    if (!(typeof spec.contractId === "string" && spec.contractId.length > 0)) throw new Error("lease: contractId is required");
    if (!(Number.isSafeInteger(spec.quotaBytes) && spec.quotaBytes > 0))
      throw new Error(`lease ${spec.contractId}: quotaBytes must be a positive integer`);
    const cur = this.byId.get(spec.contractId);
    if (cur !== undefined) {
      if (cur.quota !== spec.quotaBytes) throw new Error(`lease ${spec.contractId} is already open with a different quota`);
      cur.endsAt = spec.endsAt;
      return;
    }
    if (this.ended.has(spec.contractId)) throw new Error(`lease ${spec.contractId} has ended`);
    this.byId.set(spec.contractId, new Lease(spec, this.now));
    this.logEvent("lease_opened", `lease ${spec.contractId} open (${spec.quotaBytes} bytes)`, {
      contract_id: spec.contractId,
      quota_bytes: spec.quotaBytes,
    });
  }

  /** New end of term (extend/renew); connections stay valid to the new end. Unknown ids: no-op. */
  setEnd(contractId: string, endsAt: number | null): void {
    const l = this.byId.get(contractId);
    if (l !== undefined) l.endsAt = endsAt;
  }

  /**
   * Closes the lease's connections, computes the digest, zero-fills and frees; idempotent (the
   * same receipt again). Rejects for an id that was never opened here.
   */
  end(contractId: string): Promise<LeaseReceipt> {
    const done = this.ended.get(contractId);
    if (done !== undefined) return done;
    const l = this.byId.get(contractId);
    if (l === undefined) return Promise.reject(new Error(`lease ${contractId} is not open on this server`));
    const p = this.finish(l);
    l.receipt = p;
    this.ended.set(contractId, p);
    if (this.ended.size > 10_000) this.ended.delete(this.ended.keys().next().value!);
    return p;
  }

  private async finish(l: Lease): Promise<LeaseReceipt> {
    for (const c of l.conns) c.destroy();
    // Let the sockets' close events run so no request is mid-flight while we hash and wipe.
    await new Promise((r) => setImmediate(r));
    this.byId.delete(l.id);
    const keys = l.ks.liveCount();
    const used = l.ks.used;
    const digest = l.ks.digest();
    l.ks.wipe();
    const receipt: LeaseReceipt = {
      contract_id: l.id,
      bytes_in: l.bytesIn,
      bytes_out: l.bytesOut,
      keys,
      used_bytes: used,
      digest,
      wiped_at: new Date(this.now()).toISOString(),
    };
    this.logEvent("lease_wiped", `lease ${l.id} ended: ${keys} keys, digest ${digest}`, { ...receipt });
    return receipt;
  }

  has(contractId: string): boolean {
    return this.byId.has(contractId);
  }

  leases(): string[] {
    return [...this.byId.keys()];
  }

  /** Sum of quotas of open leases (what leases hold against what the agent offers). */
  heldBytes(): number {
    let n = 0;
    for (const l of this.byId.values()) n += l.quota;
    return n;
  }

  /** Live counters of every open lease, for the heartbeat's lease_reports (final: false). */
  counters(): LeaseCounters[] {
    return [...this.byId.values()].map((l) => ({
      contract_id: l.id,
      bytes_in: l.bytesIn,
      bytes_out: l.bytesOut,
      keys: l.ks.map.size,
      used_bytes: l.ks.used,
      connections: l.conns.size,
    }));
  }

  /** Ends every lease (receipts) and stops listening. */
  async close(): Promise<LeaseReceipt[]> {
    const receipts = await Promise.all([...this.byId.keys()].map((id) => this.end(id)));
    if (this.tick !== null) clearInterval(this.tick);
    this.tick = null;
    for (const c of this.all) c.destroy();
    const s = this.server;
    this.server = null;
    if (s !== null) await new Promise<void>((r) => s.close(() => r()));
    return receipts;
  }
}
