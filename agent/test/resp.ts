/**
 * A raw RESP2 connection for the tests that must see the socket itself (when exactly the agent
 * closes it, the exact error line): ioredis hides both behind reconnects and retries.
 */
import { connect, type Socket } from "node:net";

export type Reply = string | number | null | Buffer | Reply[] | { error: string };

export function encode(args: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === "string" ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

/** Parses one reply at `off`; returns it and the next offset, or null when more bytes are needed. */
function parse(buf: Buffer, off: number): [Reply, number] | null {
  if (off >= buf.length) return null;
  const eol = buf.indexOf("\r\n", off);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[off]);
  const line = buf.toString("utf8", off + 1, eol);
  const next = eol + 2;
  switch (type) {
    case "+":
      return [line, next];
    case "-":
      return [{ error: line }, next];
    case ":":
      return [Number(line), next];
    case "$": {
      const n = Number(line);
      if (n < 0) return [null, next];
      if (buf.length < next + n + 2) return null;
      return [buf.subarray(next, next + n), next + n + 2];
    }
    case "*": {
      const n = Number(line);
      if (n < 0) return [null, next];
      const items: Reply[] = [];
      let at = next;
      for (let i = 0; i < n; i++) {
        const r = parse(buf, at);
        if (!r) return null;
        items.push(r[0]);
        at = r[1];
      }
      return [items, at];
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}

export interface RawConn {
  socket: Socket;
  /** Sends one command and resolves with its reply. */
  call: (...args: Array<string | Buffer>) => Promise<Reply>;
  /** Resolves with the time (ms, performance.now()) the server closed the connection. */
  closed: Promise<number>;
  destroy: () => void;
}

export function rawConnect(endpoint: string): Promise<RawConn> {
  const i = endpoint.lastIndexOf(":");
  const host = endpoint.slice(0, i).replace(/^\[|\]$/g, "");
  const port = Number(endpoint.slice(i + 1));
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let buf = Buffer.alloc(0);
    const waiting: Array<(r: Reply) => void> = [];
    let closedAt: (t: number) => void = () => {};
    const closed = new Promise<number>((r) => (closedAt = r));
    socket.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const r = parse(buf, 0);
        if (!r) break;
        buf = buf.subarray(r[1]);
        waiting.shift()?.(r[0]);
      }
    });
    socket.on("close", () => {
      closedAt(performance.now());
      for (const w of waiting.splice(0)) w({ error: "connection closed" });
    });
    socket.on("error", () => {});
    socket.once("connect", () =>
      resolve({
        socket,
        call: (...args) =>
          new Promise((r) => {
            if (socket.destroyed) return r({ error: "connection closed" });
            waiting.push(r);
            socket.write(encode(args));
          }),
        closed,
        destroy: () => socket.destroy(),
      }),
    );
    socket.once("error", reject);
  });
}
