/** Quota, isolation, the end-of-lease digest and wipe, counters, and hostile input against a running server. */
import { spawn } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KEY_OVERHEAD, FIELD_OVERHEAD } from "../../src/lease/index.ts";
import { COMMANDS } from "../../src/lease/commands.ts";
import { cmd, Raw, useLeaseServer } from "./helpers.ts";

const NODE = "node-lease";
const OOM = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";
const MiB = 1024 * 1024;
const node = useLeaseServer(NODE);

let seq = 0;
async function openLease(quotaBytes: number): Promise<{ id: string; conn: () => Promise<Raw> }> {
  const id = `c-${++seq}-${Math.random().toString(36).slice(2, 8)}`;
  node.server.open({ contractId: id, quotaBytes, endsAt: Date.now() + 3_600_000 });
  const token = await node.issuer.token(id);
  return {
    id,
    conn: async () => {
      const c = await Raw.open(node.port);
      c.send(cmd("AUTH", id, token));
      expect(String((await c.replies(1))[0])).toBe("+OK\r\n");
      return c;
    },
  };
}

describe("quota", () => {
  it("counts key + value + the documented per-key and per-field overhead", async () => {
    const l = await openLease(MiB);
    const c = await l.conn();
    c.send(cmd("SET", "key1", "12345"));
    c.send(cmd("HSET", "h", "f", "vv", "g", "w"));
    await c.replies(2);
    const used = 4 + 5 + KEY_OVERHEAD + (1 + KEY_OVERHEAD + (1 + 2 + FIELD_OVERHEAD) + (1 + 1 + FIELD_OVERHEAD));
    expect(node.server.counters().find((x) => x.contract_id === l.id)!.used_bytes).toBe(used);
    c.send(cmd("INFO", "memory"));
    const info = String((await c.replies(1))[0]);
    expect(info).toContain(`used_memory:${used}\r\n`);
    expect(info).toContain(`maxmemory:${MiB}\r\n`);
    expect(info).toContain("maxmemory_policy:noeviction\r\n");
    c.close();
    await node.server.end(l.id);
  });

  it("refuses a write past the quota with Redis's exact OOM error; reads and DEL still work; DEL makes room", async () => {
    const l = await openLease(4 * MiB);
    const c = await l.conn();
    const v = Buffer.alloc(MiB, 1);
    for (let i = 0; i < 3; i++) c.send(cmd("SET", `k${i}`, v));
    c.send(cmd("SET", "k3", v));
    c.send(cmd("APPEND", "k0", "x".repeat(MiB)));
    c.send(cmd("HSET", "h", "f", Buffer.alloc(MiB)));
    c.send(cmd("GET", "k1"));
    c.send(cmd("EXISTS", "k0", "k1", "k3"));
    c.send(cmd("SET", "small", "fits"));
    const r = (await c.replies(9)).map((b) => b.toString("latin1"));
    expect(r.slice(0, 3)).toEqual(["+OK\r\n", "+OK\r\n", "+OK\r\n"]);
    expect(r.slice(3, 6)).toEqual([OOM, OOM, OOM]);
    expect(r[6]!.length).toBe(`$${MiB}\r\n`.length + MiB + 2);
    expect(r[7]).toBe(":2\r\n");
    expect(r[8]).toBe("+OK\r\n");
    c.send(cmd("DEL", "k0"));
    c.send(cmd("SET", "k3", v));
    expect((await c.replies(2)).map(String)).toEqual([":1\r\n", "+OK\r\n"]);
    // Overwriting a value with one of the same size is never refused, even when full.
    c.send(cmd("SET", "k3", Buffer.alloc(MiB, 2)));
    expect(String((await c.replies(1))[0])).toBe("+OK\r\n");
    c.close();
    await node.server.end(l.id);
  });

  it("answers OOM to a declared value larger than what is left before its payload is sent, and stays usable", async () => {
    const l = await openLease(8 * MiB);
    const c = await l.conn();
    // 400 MB declared (under Redis's 512 MB bulk cap), nothing sent after the header: the answer must come now.
    c.send("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$400000000\r\n");
    expect(String((await c.replies(1, 3000))[0])).toBe(OOM);
    // Then the client streams its payload anyway: it is skipped, not held.
    const chunk = Buffer.alloc(4 * MiB, 7);
    for (let sent = 0; sent < 64 * MiB; sent += chunk.length) c.send(chunk);
    c.send(cmd("PING"));
    // The PING is still inside the skipped payload, so no reply yet, and nothing accumulated.
    await new Promise((r) => setTimeout(r, 300));
    expect(node.server.counters().find((x) => x.contract_id === l.id)!.used_bytes).toBe(0);
    // White-box: no connection's parser holds more than a socket read's worth of it.
    const conns = (node.server as unknown as { all: Set<{ parser: { pending(): number } }> }).all;
    for (const conn of conns) expect(conn.parser.pending()).toBeLessThan(MiB);
    c.close();
    const d = await l.conn();
    d.send(cmd("SET", "after", "ok"));
    expect(String((await d.replies(1))[0])).toBe("+OK\r\n");
    d.close();
    await node.server.end(l.id);
  });

  it("lets ≥ 99 % of the leased bytes be used with 1 MiB values", async () => {
    const quota = 128 * MiB;
    const l = await openLease(quota);
    const c = await l.conn();
    const v = Buffer.alloc(MiB, 9);
    let stored = 0;
    for (let i = 0; i < 200; i++) {
      c.send(cmd("SET", `lmcache:chunk:${i}`, v));
      const r = String((await c.replies(1))[0]);
      if (r !== "+OK\r\n") {
        expect(r).toBe(OOM);
        break;
      }
      stored += MiB;
    }
    expect(stored / quota).toBeGreaterThanOrEqual(0.99);
    c.close();
    await node.server.end(l.id);
  });
});

describe("bounded buffering", () => {
  it("stops reading a client that does not read its replies, and still answers everything in order", async () => {
    const l = await openLease(8 * MiB);
    const c = await l.conn();
    c.send(cmd("SET", "v", Buffer.alloc(MiB, 0x42)));
    await c.replies(1);
    c.socket.pause(); // the client stops reading
    for (let i = 0; i < 60; i++) c.send(cmd("GET", "v"));
    c.send(cmd("ECHO", "last"));
    await new Promise((r) => setTimeout(r, 500));
    const conns = (node.server as unknown as { all: Set<{ lease: { id: string } | null; socket: { writableLength: number } }> }).all;
    const mine = [...conns].filter((x) => x.lease?.id === l.id);
    expect(mine).toHaveLength(1);
    // About the high-water mark (4 MiB) plus the reply that crossed it, not 60 MiB.
    expect(mine[0]!.socket.writableLength).toBeLessThanOrEqual(6 * MiB);
    c.socket.resume();
    const r = await c.replies(61, 20_000);
    expect(r.slice(0, 60).every((b) => b.length === `$${MiB}\r\n`.length + MiB + 2)).toBe(true);
    expect(String(r[60])).toBe("$4\r\nlast\r\n");
    c.close();
    await node.server.end(l.id);
  });

  it("refuses a request whose keys would pile up past the in-flight bound, and stays usable", async () => {
    const l = await openLease(8 * MiB);
    const c = await l.conn();
    const key = Buffer.alloc(64 * 1024, 0x6b);
    c.send(cmd("MGET", ...Array.from({ length: 300 }, () => key)));
    expect(String((await c.replies(1, 20_000))[0])).toBe(OOM);
    c.send(cmd("PING"));
    expect(String((await c.replies(1))[0])).toBe("+PONG\r\n");
    c.close();
    await node.server.end(l.id);
  });
});

describe("expiry", () => {
  it("removes expired keys lazily on access and actively without any access, giving their bytes back", async () => {
    const l = await openLease(MiB);
    const c = await l.conn();
    c.send(cmd("SET", "lazy", "v", "PX", "30"));
    for (let i = 0; i < 50; i++) c.send(cmd("SET", `active:${i}`, "v", "PX", "30"));
    c.send(cmd("SET", "stays", "v"));
    await c.replies(52);
    await new Promise((r) => setTimeout(r, 80));
    c.send(cmd("GET", "lazy"));
    c.send(cmd("TTL", "lazy"));
    expect((await c.replies(2)).map(String)).toEqual(["$-1\r\n", ":-2\r\n"]);
    // The active sweep (every 100 ms) removes the rest with no command touching them.
    const deadline = Date.now() + 3000;
    let keys = -1;
    while (Date.now() < deadline) {
      keys = node.server.counters().find((x) => x.contract_id === l.id)!.keys;
      if (keys === 1) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(keys).toBe(1);
    expect(node.server.counters().find((x) => x.contract_id === l.id)!.used_bytes).toBe(5 + 1 + KEY_OVERHEAD);
    c.close();
    await node.server.end(l.id);
  });
});

describe("isolation", () => {
  it("keeps each lease's keyspace its own, and a malformed frame on one lease's connection harms no other", async () => {
    const a = await openLease(MiB);
    const b = await openLease(MiB);
    const ca = await a.conn();
    const cb = await b.conn();
    ca.send(cmd("SET", "shared-name", "from-a"));
    cb.send(cmd("SET", "shared-name", "from-b"));
    await ca.replies(1);
    await cb.replies(1);
    ca.send(cmd("GET", "shared-name"));
    ca.send(cmd("DBSIZE"));
    expect((await ca.replies(2)).map(String)).toEqual(["$6\r\nfrom-a\r\n", ":1\r\n"]);
    cb.send(cmd("FLUSHALL"));
    await cb.replies(1);
    ca.send(cmd("GET", "shared-name"));
    expect(String((await ca.replies(1))[0])).toBe("$6\r\nfrom-a\r\n");
    // Garbage on b's connection closes that connection only.
    cb.send("*2\r\n$3\r\nGET\r\n$-7\r\n");
    expect(await cb.waitClosed(2000)).toBe(true);
    expect(cb.take().toString()).toBe("-ERR Protocol error: invalid bulk length\r\n");
    ca.send(cmd("GET", "shared-name"));
    expect(String((await ca.replies(1))[0])).toBe("$6\r\nfrom-a\r\n");
    ca.close();
    await node.server.end(a.id);
    await node.server.end(b.id);
  });

  it("keeps a request split across reads intact while other connections' reads reuse the server's read buffer", async () => {
    // Every connection reads into one shared buffer; the parser must copy out the parts of a
    // request it keeps between two reads of its connection.
    const a = await openLease(4 * MiB);
    const b = await openLease(4 * MiB);
    const ca = await a.conn();
    const cb = await b.conn();
    // The shared buffer relies on net.Socket's onread fields: a Node without them would fall
    // back to 'data' silently (correct, but slower); this says so.
    expect(node.server.sharedReads).toBe(true);
    const bytesIn = (id: string) => node.server.counters().find((x) => x.contract_id === id)!.bytes_in;
    const value = Buffer.alloc(20_000, "v"); // a large argument: its own buffer, filled across reads
    const frame = Buffer.concat([cmd("MSET", "key-one", "small-1", "key-two", value, "key-three", "small-3")]);
    const cut = [40, 60, 20_070];
    let from = 0;
    for (const at of [...cut, frame.length]) {
      const before = bytesIn(a.id);
      ca.send(frame.subarray(from, at));
      for (let i = 0; i < 500 && bytesIn(a.id) < before + (at - from); i++) await new Promise((r) => setTimeout(r, 5));
      expect(bytesIn(a.id)).toBe(before + (at - from)); // the server has read this part
      from = at;
      cb.send(cmd("SET", "noise", Buffer.alloc(3000, "x"))); // another read into the same buffer
      expect(String((await cb.replies(1))[0])).toBe("+OK\r\n");
    }
    expect(String((await ca.replies(1))[0])).toBe("+OK\r\n");
    ca.send(cmd("MGET", "key-one", "key-two", "key-three"));
    expect(String((await ca.replies(1))[0])).toBe(`*3\r\n$7\r\nsmall-1\r\n$20000\r\n${value}\r\n$7\r\nsmall-3\r\n`);
    ca.close();
    cb.close();
    await node.server.end(a.id);
    await node.server.end(b.id);
  });

  it("contains a bug in one command to its connection: an error reply, the connection closed, the agent up", async () => {
    const l = await openLease(MiB);
    const a = await l.conn();
    const b = await l.conn();
    const echo = COMMANDS.get("echo")!;
    const fn = echo.fn;
    echo.fn = () => {
      throw new Error("a bug");
    };
    try {
      a.send(cmd("ECHO", "x"));
      expect(await a.waitClosed(2000)).toBe(true);
      expect(a.take().toString()).toBe("-ERR internal error\r\n");
    } finally {
      echo.fn = fn;
    }
    b.send(cmd("ECHO", "still up"));
    expect(String((await b.replies(1))[0])).toBe("$8\r\nstill up\r\n");
    b.close();
    await node.server.end(l.id);
  });

  it("survives random garbage on many connections (fuzz) and keeps serving", async () => {
    const l = await openLease(4 * MiB);
    const good = await l.conn();
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 512 }), { minLength: 1, maxLength: 6 }), fc.boolean(), async (frags, authed) => {
        const c = authed ? await l.conn() : await Raw.open(node.port);
        for (const f of frags) c.send(Buffer.from(f));
        await new Promise((r) => setTimeout(r, 5));
        c.close();
      }),
      { numRuns: 60 },
    );
    good.send(cmd("SET", "still", "here"));
    good.send(cmd("GET", "still"));
    expect((await good.replies(2)).map(String)).toEqual(["+OK\r\n", "$4\r\nhere\r\n"]);
    good.close();
    await node.server.end(l.id);
  });
});

describe("end of lease: digest, wipe, receipt", () => {
  it("reports a digest a renter can recompute (Python, from the README's layout), zero-fills the values and counts the bytes", async () => {
    const l = await openLease(16 * MiB);
    const c = await l.conn();
    const bin = Buffer.from([0, 1, 2, 255, 13, 10]);
    const big = Buffer.alloc(MiB, 0xab);
    c.send(cmd("SET", "b", "2"));
    c.send(cmd("SET", Buffer.from([0x61, 0x00, 0xff]), bin));
    c.send(cmd("SET", "big", big));
    c.send(cmd("HSET", "h", "zf", "last", "af", "first"));
    c.send(cmd("SET", "gone", "x", "PX", "1"));
    c.send(cmd("SET", "a", "1"));
    await c.replies(6);
    await new Promise((r) => setTimeout(r, 20));
    c.send(cmd("GET", "big"));
    await c.replies(1);
    // References to stored value buffers, to check the wipe.
    const lease = (node.server as unknown as { lease(id: string): { ks: { map: Map<string, { value: unknown }> } } }).lease(l.id);
    const bigBuf = lease.ks.map.get("big")!.value as Buffer;
    const hashBuf = (lease.ks.map.get("h")!.value as Map<string, Buffer>).get("zf")!;
    expect(bigBuf.equals(big)).toBe(true);
    const counters = node.server.counters().find((x) => x.contract_id === l.id)!;
    const receipt = await node.server.end(l.id);
    expect(await c.waitClosed(2000)).toBe(true);
    expect(bigBuf.every((x) => x === 0)).toBe(true);
    expect(hashBuf.every((x) => x === 0)).toBe(true);
    expect(receipt.keys).toBe(5);
    expect(receipt.bytes_in).toBeGreaterThanOrEqual(counters.bytes_in);
    expect(receipt.bytes_in).toBeGreaterThan(MiB);
    expect(receipt.bytes_out).toBeGreaterThan(MiB);
    expect(receipt.used_bytes).toBe(counters.used_bytes);
    expect(receipt.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(new Date(receipt.wiped_at).toString()).not.toBe("Invalid Date");
    // The README's recipe, verbatim in spirit: keys in byte order, u8 tag, u64be lengths.
    const py = `
import hashlib, struct, json, sys
data = json.loads(sys.stdin.read())
h = hashlib.sha256()
u64 = lambda n: struct.pack(">Q", n)
for key in sorted(data, key=lambda k: bytes.fromhex(k)):
    kind, val = data[key]
    k = bytes.fromhex(key)
    if kind == "string":
        v = bytes.fromhex(val)
        h.update(b"\\x01" + u64(len(k)) + k + u64(len(v)) + v)
    else:
        h.update(b"\\x02" + u64(len(k)) + k + u64(len(val)))
        for f in sorted(val, key=lambda f: bytes.fromhex(f)):
            fb, vb = bytes.fromhex(f), bytes.fromhex(val[f])
            h.update(u64(len(fb)) + fb + u64(len(vb)) + vb)
print(h.hexdigest())
`;
    const hex = (s: string | Buffer) => Buffer.from(s).toString("hex");
    const data = {
      [hex("a")]: ["string", hex("1")],
      [hex("b")]: ["string", hex("2")],
      [hex(Buffer.from([0x61, 0x00, 0xff]))]: ["string", hex(bin)],
      [hex("big")]: ["string", hex(big)],
      [hex("h")]: ["hash", { [hex("zf")]: hex("last"), [hex("af")]: hex("first") }],
    };
    const child = spawn("/usr/bin/python3", ["-c", py], { stdio: ["pipe", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stdin.end(JSON.stringify(data));
    await new Promise((r) => child.on("exit", r));
    expect(receipt.digest).toBe(out.trim());
  });

  it("matches the README's worked examples (per-key overhead and digest)", async () => {
    const l = await openLease(MiB);
    const c = await l.conn();
    c.send(cmd("SET", "user:1", "hello"));
    await c.replies(1);
    expect(node.server.counters().find((x) => x.contract_id === l.id)!.used_bytes).toBe(107);
    c.send(cmd("DEL", "user:1"));
    c.send(cmd("HSET", "h", "name", "ada", "age", "36"));
    await c.replies(2);
    expect(node.server.counters().find((x) => x.contract_id === l.id)!.used_bytes).toBe(205);
    c.send(cmd("SET", "a", "hello"));
    await c.replies(1);
    c.close();
    expect((await node.server.end(l.id)).digest).toBe("253226828edbcbff044ec6887cf6791129a5a830a03928b24043962ca285be41");
  });

  it("digests an empty lease as SHA-256 of nothing, and close() ends every lease", async () => {
    const l = await openLease(MiB);
    const l2 = await openLease(MiB);
    expect(node.server.leases()).toEqual(expect.arrayContaining([l.id, l2.id]));
    expect(node.server.heldBytes()).toBeGreaterThanOrEqual(2 * MiB);
    const r = await node.server.end(l.id);
    expect(r.digest).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(r.keys).toBe(0);
    await node.server.end(l2.id);
    expect(node.server.has(l.id)).toBe(false);
    expect(() => node.server.open({ contractId: l.id, quotaBytes: MiB, endsAt: null })).toThrow(/ended/);
  });
});
