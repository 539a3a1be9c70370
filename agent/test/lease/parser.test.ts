/** The RESP request parser on its own: valid streams split anywhere, bad frames, bounded buffering, fuzz. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { INLINE_MAX, LARGE_ARG, ProtocolError, Reply, RespParser, splitArgs, type ParserPolicy } from "../../src/lease/resp.ts";
import { cmd } from "./helpers.ts";

function policy(over: Partial<ParserPolicy> = {}): ParserPolicy {
  return {
    maxArgs: () => 1000,
    argsError: () => "invalid multibulk length",
    admit: () => null,
    ...over,
  };
}

/** Feeds the chunks in order and collects every request (or the protocol error). */
function parseAll(chunks: Buffer[], p = new RespParser(policy())): { reqs: string[][]; error: string | null; parser: RespParser } {
  const reqs: string[][] = [];
  try {
    for (const ch of chunks) {
      p.feed(ch);
      for (let r = p.next(); r !== null; r = p.next()) {
        reqs.push(r.args ? r.args.map((a) => a.toString("latin1")) : [`REFUSED:${r.refused.toString()}`]);
      }
    }
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    return { reqs, error: e.message, parser: p };
  }
  return { reqs, error: null, parser: p };
}

function splitEvery(b: Buffer, at: number[]): Buffer[] {
  const out: Buffer[] = [];
  let prev = 0;
  for (const i of [...new Set(at)].sort((x, y) => x - y)) {
    if (i > prev && i < b.length) {
      out.push(b.subarray(prev, i));
      prev = i;
    }
  }
  out.push(b.subarray(prev));
  return out;
}

describe("RespParser", () => {
  it("parses multibulk, inline and pipelined requests with binary-safe values", () => {
    const bin = Buffer.from([0, 13, 10, 255, 36, 42]);
    const stream = Buffer.concat([
      cmd("SET", "k", bin),
      Buffer.from("PING\r\nGET k\n"),
      cmd("GET", "k"),
      Buffer.from("*0\r\n*-1\r\n\r\n"),
      cmd("ECHO", ""),
    ]);
    const { reqs, error } = parseAll([stream]);
    expect(error).toBeNull();
    expect(reqs).toEqual([["SET", "k", bin.toString("latin1")], ["PING"], ["GET", "k"], ["GET", "k"], ["ECHO", ""]]);
  });

  it("gives the same requests when the stream is split at every byte boundary", () => {
    const big = Buffer.alloc(LARGE_ARG + 77, 7);
    const stream = Buffer.concat([cmd("SET", "a", "1"), Buffer.from("INLINE \"q x\" 'y'\r\n"), cmd("SET", "big", big), cmd("GET", "big")]);
    const whole = parseAll([stream]).reqs;
    expect(whole).toHaveLength(4);
    expect(whole[2]![2]!.length).toBe(big.length);
    // Every single split point, and a byte-at-a-time feed.
    for (let i = 1; i < stream.length; i += i < 200 ? 1 : 997) expect(parseAll(splitEvery(stream, [i])).reqs).toEqual(whole);
    expect(parseAll([...stream].map((b) => Buffer.from([b]))).reqs).toEqual(whole);
  });

  it("gives each large argument its own buffer, not a view of a socket chunk", () => {
    const p = new RespParser(policy());
    const v = Buffer.alloc(LARGE_ARG, 1);
    p.feed(cmd("SET", "k", v));
    const r = p.next()!;
    const arg = r.args![2]!;
    expect(arg.equals(v)).toBe(true);
    expect(arg.byteOffset).toBe(0);
    expect(arg.buffer.byteLength).toBe(LARGE_ARG);
  });

  it.each([
    ["invalid bulk length", "*1\r\n$-5\r\n"],
    ["invalid bulk length", "*1\r\n$abc\r\n"],
    ["invalid bulk length", "*1\r\n$4294967296\r\n"],
    ["invalid bulk length", `*1\r\n$${512 * 1024 * 1024 + 1}\r\n`],
    ["invalid multibulk length", "*x\r\n"],
    ["invalid multibulk length", "*99999999999\r\n"],
    ["invalid multibulk length", "*100000\r\n"],
    ["expected '$', got 'x'", "*1\r\nx\r\n"],
    ["expected '$', got ':'", "*2\r\n$1\r\na\r\n:1\r\n"],
    ["unbalanced quotes in request", 'GET "abc\r\n'],
    ["too big bulk count string", "*1\r\n" + "9".repeat(INLINE_MAX + 10)],
    ["too big mbulk count string", "*" + "9".repeat(INLINE_MAX + 10)],
    ["too big inline request", "A".repeat(INLINE_MAX + 10)],
  ])("rejects a bad frame with %j", (msg, raw) => {
    expect(parseAll([Buffer.from(raw)]).error).toBe(msg);
  });

  it("asks the policy about a declared length before reading the payload, and skips a refused request unbuffered", () => {
    const seen: number[] = [];
    const p = new RespParser(
      policy({
        admit: (_args, index, len) => {
          seen.push(len);
          return index === 2 && len > 1000 ? Buffer.from("-OOM\r\n") : null;
        },
      }),
    );
    // Only the header of a 100 MB value arrives: the refusal comes back at once.
    p.feed(Buffer.from("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000000\r\n"));
    const r = p.next()!;
    expect(r.refused?.toString()).toBe("-OOM\r\n");
    expect(seen).toEqual([3, 1, 100_000_000]);
    // The payload streams in and is dropped as it comes: nothing accumulates.
    const chunk = Buffer.alloc(1 << 20, 120);
    for (let i = 0; i < 95; i++) {
      p.feed(chunk);
      expect(p.next()).toBeNull();
      expect(p.pending()).toBe(0);
    }
    p.feed(Buffer.concat([Buffer.alloc(100_000_000 - 95 * (1 << 20), 120), Buffer.from("\r\n"), cmd("GET", "k")]));
    expect(p.next()!.args!.map(String)).toEqual(["GET", "k"]);
  });

  it("a policy's protocol error names the limit (unauthenticated limits)", () => {
    const unauth = policy({
      maxArgs: () => 10,
      argsError: () => "unauthenticated multibulk length",
      admit: (_a, _i, len) => (len > 16384 ? "unauthenticated bulk length" : null),
    });
    expect(parseAll([Buffer.from("*11\r\n")], new RespParser(unauth)).error).toBe("unauthenticated multibulk length");
    expect(parseAll([Buffer.from("*1\r\n$16385\r\n")], new RespParser(unauth)).error).toBe("unauthenticated bulk length");
  });

  it("splits inline arguments as Redis's sdssplitargs does", () => {
    const s = (x: string) => splitArgs(Buffer.from(x))?.map((b) => b.toString("latin1")) ?? null;
    expect(s('SET k "a b\\x41\\n"')).toEqual(["SET", "k", "a bA\n"]);
    expect(s("SET k 'it\\'s'")).toEqual(["SET", "k", "it's"]);
    expect(s('a "b"c')).toBeNull();
    expect(s("'x")).toBeNull();
    expect(s("   ")).toEqual([]);
  });
});

describe("Reply", () => {
  it("writes RESP2 and RESP3 forms", () => {
    const r = new Reply();
    r.nil();
    r.map(1);
    r.bulkStr("a");
    r.int(-5);
    r.verbatim("x:1\r\n");
    r.proto = 3;
    r.nil();
    r.map(1);
    r.verbatim("x:1\r\n");
    expect(Buffer.concat(r.take()).toString()).toBe("$-1\r\n*2\r\n$1\r\na\r\n:-5\r\n$5\r\nx:1\r\n\r\n_\r\n%1\r\n=9\r\ntxt:x:1\r\n\r\n");
    expect(r.empty()).toBe(true);
  });

  it("passes a large value through without copying it", () => {
    const r = new Reply();
    const v = Buffer.alloc(1 << 20, 3);
    r.bulk(v);
    const out = r.take();
    expect(out.some((b) => b === v)).toBe(true);
    expect(Buffer.concat(out).length).toBe("$1048576\r\n".length + (1 << 20) + 2);
  });
});

describe("RespParser fuzz", () => {
  const arg = fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: LARGE_ARG - 2, maxLength: LARGE_ARG + 2 }));
  const request = fc.array(arg, { minLength: 1, maxLength: 6 });

  it("valid pipelines split at random points parse to exactly the requests sent", () => {
    fc.assert(
      fc.property(fc.array(request, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), (reqs, cuts) => {
        const stream = Buffer.concat(reqs.map((r) => cmd(...r.map((a) => Buffer.from(a)))));
        const { reqs: got, error } = parseAll(
          splitEvery(
            stream,
            cuts.map((c) => c % (stream.length + 1)),
          ),
        );
        expect(error).toBeNull();
        expect(got).toEqual(reqs.map((r) => r.map((a) => Buffer.from(a).toString("latin1"))));
      }),
      { numRuns: 150 },
    );
  });

  it("parses the same when every read lands in one reused buffer (detach copies what it keeps)", () => {
    // The server reads every connection into one shared buffer: after each read, whatever the
    // parser holds from it must survive the next read overwriting it (here: with 0xEE bytes).
    fc.assert(
      fc.property(fc.array(request, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 12 }), (reqs, cuts) => {
        const stream = Buffer.concat(reqs.map((r) => cmd(...r.map((a) => Buffer.from(a)))));
        const shared = Buffer.alloc(stream.length + 1);
        const p = new RespParser(policy());
        const got: string[][] = [];
        for (const piece of splitEvery(
          stream,
          cuts.map((c) => c % (stream.length + 1)),
        )) {
          piece.copy(shared);
          p.feed(shared.subarray(0, piece.length));
          for (let r = p.next(); r !== null; r = p.next()) got.push(r.args!.map((a) => a.toString("latin1")));
          p.detach(shared.buffer);
          shared.fill(0xee);
        }
        expect(got).toEqual(reqs.map((r) => r.map((a) => Buffer.from(a).toString("latin1"))));
      }),
      { numRuns: 100 },
    );
  });

  it("garbage never throws anything but a ProtocolError, and what is buffered stays bounded", () => {
    const frag = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc
        .constantFrom(
          "*",
          "$",
          "\r\n",
          "*3\r\n",
          "$-1\r\n",
          "$999999999999\r\n",
          "*-7\r\n",
          "$5\r\nab",
          '"',
          "'",
          "\\x4",
          "*1\r\n$4\r\nPING\r\n",
          "$16384\r\n",
        )
        .map((s) => Buffer.from(s)),
    );
    fc.assert(
      fc.property(fc.array(frag, { maxLength: 40 }), (frags) => {
        const p = new RespParser(policy());
        let maxPending = 0;
        try {
          for (const f of frags) {
            p.feed(Buffer.from(f));
            while (p.next() !== null);
            maxPending = Math.max(maxPending, p.pending());
          }
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolError);
        }
        expect(maxPending).toBeLessThanOrEqual(INLINE_MAX + LARGE_ARG + 64 * 40);
      }),
      { numRuns: 400 },
    );
  });
});

describe("Reply block reuse", () => {
  it("assembles the next batch over the same bytes only once told the last one was written", () => {
    const r = new Reply();
    r.bulk(Buffer.from("first"));
    const [a] = r.take();
    r.bulk(Buffer.from("second"));
    const [b] = r.take();
    // Not told: the second batch follows the first, which is left intact.
    expect(b!.byteOffset).toBe(a!.byteOffset + a!.length);
    expect(a!.toString()).toBe("$5\r\nfirst\r\n");
    r.reuse();
    r.bulk(Buffer.from("third"));
    const [c] = r.take();
    expect(c!.buffer).toBe(a!.buffer);
    expect(c!.byteOffset).toBe(a!.byteOffset);
    expect(c!.toString()).toBe("$5\r\nthird\r\n");
  });
});
