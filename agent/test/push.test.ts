/**
 * The push channel client against a minimal WebSocket server (node:http upgrade + RFC 6455 text
 * frames): what it sends to authenticate, what it does with each message, and that it comes back
 * after the server drops it. The real worker's channel is covered by dataplane.e2e.test.ts.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { HeartbeatContract } from "../src/api.ts";
import { createLogger } from "../src/log.ts";
import { PushChannel, pushUrl } from "../src/push.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** One unmasked text frame, server → client. */
function frame(text: string): Buffer {
  const payload = Buffer.from(text);
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x81, n]) : Buffer.from([0x81, 126, n >> 8, n & 0xff]);
  return Buffer.concat([head, payload]);
}

interface Upgrade {
  req: IncomingMessage;
  socket: Socket;
}

let server: Server | null = null;
let channel: PushChannel | null = null;
/** Upgraded sockets are the test's to close: the HTTP server no longer tracks them. */
const sockets = new Set<Socket>();

async function wsServer(onUpgrade: (u: Upgrade) => void, refuse: () => boolean = () => false): Promise<string> {
  server = createServer((_req, res) => res.writeHead(426).end());
  server.on("upgrade", (req: IncomingMessage, socket: Socket) => {
    if (refuse()) {
      onUpgrade({ req, socket });
      socket.end("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n");
      return;
    }
    const accept = createHash("sha1").update(`${req.headers["sec-websocket-key"]}${GUID}`).digest("base64");
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    socket.on("error", () => {});
    sockets.add(socket);
    onUpgrade({ req, socket });
  });
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", () => r()));
  return `http://127.0.0.1:${(server!.address() as { port: number }).port}`;
}

function sink() {
  let out = "";
  const w = { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WritableStream;
  return {
    logger: createLogger(true, w, w),
    events: () =>
      out
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

async function until(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

afterEach(async () => {
  channel?.close();
  channel = null;
  for (const s of sockets) s.destroy();
  sockets.clear();
  server?.closeAllConnections();
  await new Promise((r) => (server ? server.close(() => r(undefined)) : r(undefined)));
  server = null;
});

const NODE = "3f1c7a52-0b7e-4c1a-9d3e-2a4b5c6d7e8f";
const contract = (id: string, status: HeartbeatContract["status"] = "pending"): HeartbeatContract => ({
  id,
  ram_gb: 1,
  vram_gb: 0,
  end_time: null,
  status,
});

describe("push channel", () => {
  it("maps the API URL to the node's socket, keeping any path prefix and never a query", () => {
    expect(pushUrl("http://127.0.0.1:8787", NODE)).toBe(`ws://127.0.0.1:8787/ws/nodes/${NODE}`);
    expect(pushUrl("https://mnemo.example/api-base/", NODE)).toBe(`wss://mnemo.example/api-base/ws/nodes/${NODE}`);
  });

  it("authenticates with the X-API-Key header, hands over each contracts list, and ignores pings, unknown types and garbage", async () => {
    const upgrades: Upgrade[] = [];
    const url = await wsServer((u) => upgrades.push(u));
    const lists: HeartbeatContract[][] = [];
    const { logger, events } = sink();
    channel = new PushChannel({ apiUrl: url, apiKey: "mk_secret_key", nodeId: NODE, logger, onContracts: (l) => lists.push(l) });
    channel.start();
    await until(() => upgrades.length === 1 && channel!.connected, "the connection");
    const { req, socket } = upgrades[0];
    expect(req.url).toBe(`/ws/nodes/${NODE}`);
    expect(req.headers["x-api-key"]).toBe("mk_secret_key");
    expect(req.url).not.toContain("mk_secret");

    socket.write(frame(JSON.stringify({ type: "ping" })));
    socket.write(frame(JSON.stringify({ type: "market_update", data: { region: "x" } })));
    socket.write(frame("not json"));
    socket.write(frame(JSON.stringify({ type: "contracts", data: {} })));
    socket.write(frame(JSON.stringify({ type: "contracts", data: { contracts: [contract("a"), contract("b", "active")] } })));
    await until(() => lists.length === 1, "the contracts list");
    expect(lists[0].map((c) => c.id)).toEqual(["a", "b"]);
    expect(channel.messages).toBe(1);
    const ev = events();
    expect(ev.find((e) => e.event === "push_connected")).toMatchObject({ node_id: NODE, attempts: 0 });
    expect(ev.filter((e) => e.event === "push_bad_message")).toHaveLength(2);
  });

  it("comes back after the server drops it, warns once per outage, and stays closed after close()", async () => {
    const upgrades: Upgrade[] = [];
    let refuse = false;
    const url = await wsServer(
      (u) => {
        upgrades.push(u);
        if (!refuse) u.socket.write(frame(JSON.stringify({ type: "contracts", data: { contracts: [contract(`c${upgrades.length}`)] } })));
      },
      () => refuse,
    );
    const lists: HeartbeatContract[][] = [];
    const { logger, events } = sink();
    const waits: number[] = [];
    channel = new PushChannel({
      apiUrl: url,
      apiKey: "k",
      nodeId: NODE,
      logger,
      onContracts: (l) => lists.push(l),
      backoff: (n) => (waits.push(n), 0.05),
    });
    channel.start();
    await until(() => lists.length === 1, "the first list");

    // Dropped three times in a row (the server refuses the next two attempts): one warning.
    refuse = true;
    upgrades[0].socket.destroy();
    await until(() => upgrades.length >= 3, "two failed reconnects");
    refuse = false;
    await until(() => lists.length === 2, "the list after reconnecting");
    expect(lists[1][0].id).toBe(`c${upgrades.length}`);
    expect(waits.slice(0, 3)).toEqual([1, 2, 3]); // the attempt count grows while it fails
    const ev = events();
    expect(ev.filter((e) => e.event === "push_down")).toHaveLength(1);
    expect(ev.filter((e) => e.event === "push_connected").at(-1)!.attempts).toBeGreaterThanOrEqual(3);

    const before = upgrades.length;
    channel.close();
    await new Promise((r) => setTimeout(r, 300));
    expect(upgrades.length).toBe(before);
    expect(channel.connected).toBe(false);
  });

  it("a server that accepts and drops at once meets a growing backoff, not a tight loop", async () => {
    let n = 0;
    const url = await wsServer((u) => {
      n++;
      u.socket.destroy();
    });
    const waits: number[] = [];
    const { logger } = sink();
    channel = new PushChannel({
      apiUrl: url,
      apiKey: "k",
      nodeId: NODE,
      logger,
      onContracts: () => {},
      backoff: (a) => (waits.push(a), 0.02),
    });
    channel.start();
    await until(() => waits.length >= 4, "four reconnect attempts");
    expect(waits.slice(0, 4)).toEqual([1, 2, 3, 4]);
    expect(n).toBeGreaterThanOrEqual(4);
  });

  it("a socket that goes silent past the limit is replaced", async () => {
    const upgrades: Upgrade[] = [];
    const url = await wsServer((u) => {
      upgrades.push(u);
      u.socket.write(frame(JSON.stringify({ type: "contracts", data: { contracts: [] } })));
    });
    const { logger, events } = sink();
    const lists: HeartbeatContract[][] = [];
    channel = new PushChannel({
      apiUrl: url,
      apiKey: "k",
      nodeId: NODE,
      logger,
      onContracts: (l) => lists.push(l),
      backoff: () => 0.02,
      silentLimitMs: 300,
    });
    channel.start();
    await until(() => lists.length === 1, "the first list");
    // A ping counts as hearing from the server; then nothing at all.
    upgrades[0].socket.write(frame(JSON.stringify({ type: "ping" })));
    await until(() => upgrades.length >= 2 && lists.length >= 2, "a new socket after the silence", 5000);
    expect(events().some((e) => e.event === "push_silent")).toBe(true);
  });
});
