/** A local platform stand-in for lease tests: an ES256 key, a JWKS served on loopback, tokens. */
import { createServer, type Server } from "node:http";
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll } from "vitest";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { LeaseServer, type LeaseServerOptions } from "../../src/lease/index.ts";

export interface Issuer {
  jwksUrl: string;
  /** How many times the JWKS was fetched. */
  fetches: () => number;
  /** Signs a lease token; claims override the defaults (sub = contract, aud = node, 1 h term). */
  token: (contractId: string, claims?: Record<string, unknown>, opts?: { kid?: string; key?: CryptoKey }) => Promise<string>;
  /** Replaces the published key with a new one (new kid); returns the new kid. */
  rotate: () => Promise<string>;
  close: () => Promise<void>;
}

export async function startIssuer(nodeId: string): Promise<Issuer> {
  let keys: Array<{ kid: string; priv: CryptoKey; jwk: JWK }> = [];
  let n = 0;
  const add = async () => {
    const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
    const kid = `k${++n}`;
    const jwk = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
    keys = [{ kid, priv: privateKey, jwk }];
    return kid;
  };
  await add();
  let fetches = 0;
  const server: Server = createServer((req, res) => {
    fetches++;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ keys: keys.map((k) => k.jwk) }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    fetches: () => fetches,
    token: async (contractId, claims = {}, opts = {}) => {
      const k = keys[0]!;
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ sub: contractId, aud: nodeId, iss: "mnemo", nbf: now - 1, exp: now + 3600, ...claims })
        .setProtectedHeader({ alg: "ES256", kid: opts.kid ?? k.kid })
        .sign(opts.key ?? k.priv);
    },
    rotate: add,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export async function startLeaseServer(issuer: Issuer, nodeId: string, extra: Partial<LeaseServerOptions> = {}) {
  const server = new LeaseServer({ nodeId, jwksUrl: issuer.jwksUrl, port: 0, bind: "127.0.0.1", jwksCooldownMs: 0, ...extra });
  const { port } = await server.listen();
  return { server, port };
}

/** One test file's node: an issuer and a lease server, started before its tests and closed after them. */
export function useLeaseServer(
  nodeId: string,
  extra: Partial<LeaseServerOptions> = {},
): { issuer: Issuer; server: LeaseServer; port: number } {
  const node = {} as { issuer: Issuer; server: LeaseServer; port: number };
  beforeAll(async () => {
    node.issuer = await startIssuer(nodeId);
    ({ server: node.server, port: node.port } = await startLeaseServer(node.issuer, nodeId, extra));
  });
  afterAll(async () => {
    await node.server?.close();
    await node.issuer?.close();
  });
  return node;
}

/** A raw client: send bytes, read replies as they come. */
export class Raw {
  readonly socket: Socket;
  private buf = Buffer.alloc(0);
  private store = Buffer.alloc(0);
  closed = false;
  private waiters: Array<() => void> = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (d: Buffer) => {
      // Grown by doubling: tests read tens of MiB through here.
      if (this.buf.byteOffset + this.buf.length + d.length <= this.store.length && this.buf.buffer === this.store.buffer) {
        d.copy(this.store, this.buf.byteOffset + this.buf.length);
        this.buf = this.store.subarray(this.buf.byteOffset, this.buf.byteOffset + this.buf.length + d.length);
      } else {
        const next = Buffer.allocUnsafe(Math.max(64 * 1024, 2 * (this.buf.length + d.length)));
        this.buf.copy(next);
        d.copy(next, this.buf.length);
        this.store = next;
        this.buf = next.subarray(0, this.buf.length + d.length);
      }
      this.wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
    socket.on("error", () => {});
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  static open(port: number): Promise<Raw> {
    return new Promise((resolve, reject) => {
      const s = connect(port, "127.0.0.1", () => resolve(new Raw(s)));
      s.once("error", reject);
    });
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Waits until `pred(buffer)` or the socket closes or the timeout passes; returns what was read. */
  async until(pred: (b: Buffer) => boolean, timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.buf) && !this.closed && Date.now() < deadline) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.buf;
  }

  /** Reads exactly n complete RESP replies (any type, nested), returns them as raw bytes. */
  async replies(n: number, timeoutMs = 5000): Promise<Buffer[]> {
    await this.until((b) => countReplies(b) >= n, timeoutMs);
    const out: Buffer[] = [];
    let pos = 0;
    for (let i = 0; i < n; i++) {
      const end = replyEnd(this.buf, pos);
      if (end < 0) throw new Error(`only ${i} of ${n} replies arrived: ${JSON.stringify(this.buf.toString("latin1"))}`);
      out.push(this.buf.subarray(pos, end));
      pos = end;
    }
    this.buf = this.buf.subarray(pos);
    return out;
  }

  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    await this.until(() => false, timeoutMs);
    return this.closed;
  }

  take(): Buffer {
    const b = this.buf;
    this.buf = Buffer.alloc(0);
    return b;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Encodes a command as a RESP multibulk. */
export function cmd(...args: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === "string" ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

function countReplies(b: Buffer): number {
  let n = 0;
  let pos = 0;
  for (;;) {
    const e = replyEnd(b, pos);
    if (e < 0) return n;
    n++;
    pos = e;
  }
}

/** End offset of the RESP2/3 reply starting at pos, or -1 if incomplete. */
export function replyEnd(b: Buffer, pos: number): number {
  if (pos >= b.length) return -1;
  const nl = b.indexOf("\r\n", pos);
  if (nl < 0) return -1;
  const t = String.fromCharCode(b[pos]!);
  const line = b.toString("latin1", pos + 1, nl);
  let p = nl + 2;
  switch (t) {
    case "+":
    case "-":
    case ":":
    case "_":
    case ",":
    case "#":
    case "(":
      return p;
    case "$":
    case "=":
    case "!": {
      const n = Number(line);
      if (n < 0) return p;
      return b.length >= p + n + 2 ? p + n + 2 : -1;
    }
    case "*":
    case "~":
    case ">":
    case "%":
    case "|": {
      let n = Number(line);
      if (n < 0) return p;
      if (t === "%" || t === "|") n *= 2;
      for (let i = 0; i < n; i++) {
        p = replyEnd(b, p);
        if (p < 0) return -1;
      }
      return p;
    }
    default:
      throw new Error(`bad reply type ${JSON.stringify(t)} in ${JSON.stringify(b.toString("latin1", pos, pos + 80))}`);
  }
}
