/** The keyspace on its own: glob patterns as Redis matches them, SCAN's guarantee under change, accounting. */
import { describe, expect, it } from "vitest";
import { Reply, written } from "../../src/lease/resp.ts";
import { globMatch, Keyspace, KEY_OVERHEAD, own, T_STRING } from "../../src/lease/store.ts";

describe("globMatch (Redis's stringmatchlen)", () => {
  it.each([
    ["h?llo", "hello", true],
    ["h?llo", "hllo", false],
    ["h*llo", "hllo", true],
    ["h*llo", "heeeello", true],
    ["h[ae]llo", "hallo", true],
    ["h[ae]llo", "hillo", false],
    ["h[^e]llo", "hallo", true],
    ["h[^e]llo", "hello", false],
    ["h[a-b]llo", "hbllo", true],
    ["h[b-a]llo", "hallo", true],
    ["h\\*llo", "h*llo", true],
    ["h\\*llo", "hello", false],
    ["*", "", true],
    ["feast:*:x", "feast:a:b:x", true],
    ["a*b*c", "aXbYc", true],
    ["a*b*c", "aXbY", false],
  ])("%j against %j → %s", (pattern, s, want) => {
    expect(globMatch(pattern, s)).toBe(want);
  });

  it("is case-insensitive only when asked (CONFIG GET)", () => {
    expect(globMatch("MAXMEMORY*", "maxmemory-policy", true)).toBe(true);
    expect(globMatch("MAXMEMORY*", "maxmemory-policy")).toBe(false);
  });
});

describe("Keyspace", () => {
  const put = (ks: Keyspace, k: string) => ks.setString(k, Buffer.from("v"), ks.get(k), 0);

  it("SCAN returns every key present for the whole scan, even when keys come and go in between", () => {
    const ks = new Keyspace(() => 1_000);
    for (let i = 0; i < 100; i++) put(ks, `k${i}`);
    const seen = new Set<string>();
    let cursor = 0;
    let rounds = 0;
    do {
      const r = ks.scan(cursor, 7, () => true);
      r.keys.forEach((k) => {
        seen.add(k);
      });
      cursor = r.next;
      // Churn between calls: delete some early keys, add new ones, overwrite others.
      ks.remove(`k${rounds}`, ks.get(`k${rounds}`)!);
      put(ks, `new${rounds}`);
      put(ks, `k${99 - rounds}`);
    } while (cursor !== 0 && ++rounds < 1000);
    // Keys 15..84 were never deleted nor re-created: they must all have been returned.
    for (let i = 15; i < 85; i++) expect(seen.has(`k${i}`)).toBe(true);
  });

  it("finds its place again from a cursor it no longer has an iterator for", () => {
    const ks = new Keyspace(() => 1_000);
    for (let i = 0; i < 10; i++) put(ks, `k${i}`);
    const first = ks.scan(0, 4, () => true);
    const fresh = new Keyspace(() => 1_000);
    for (let i = 0; i < 10; i++) put(fresh, `k${i}`);
    expect(fresh.scan(first.next, 100, () => true).keys).toEqual(["k4", "k5", "k6", "k7", "k8", "k9"]);
  });

  it("counts a string as key + value + the per-key overhead, and frees it on delete and expiry", () => {
    let now = 1_000;
    const ks = new Keyspace(() => now);
    ks.setString("abc", Buffer.from("12345"), undefined, 0);
    expect(ks.used).toBe(3 + 5 + KEY_OVERHEAD);
    ks.setString("abc", Buffer.from("1"), ks.get("abc"), 2_000);
    expect(ks.used).toBe(3 + 1 + KEY_OVERHEAD);
    expect(ks.get("abc")?.type).toBe(T_STRING);
    now = 2_000;
    expect(ks.get("abc")).toBeUndefined();
    expect(ks.used).toBe(0);
    expect(ks.expiredKeys).toBe(1);
  });
});

describe("recycled value buffers", () => {
  const big = (n: number, fill: number) => Buffer.allocUnsafeSlow(n).fill(fill);

  it("hands an overwritten large value back for the next argument of that length, within its byte bound", () => {
    const ks = new Keyspace(() => 0, 40 * 1024);
    const a = big(20 * 1024, 1);
    ks.setString("k", a, undefined, 0);
    ks.setString("k", big(20 * 1024, 2), ks.get("k"), 0);
    expect(ks.takeBuffer(20 * 1024)).toBe(a);
    expect(ks.takeBuffer(20 * 1024)).toBeUndefined();
    // Over the bound (40 KiB) and small or shared-slab values are left to the collector.
    ks.setString("k", big(30 * 1024, 3), ks.get("k"), 0); // the 20 KiB one is kept
    ks.setString("k", big(30 * 1024, 4), ks.get("k"), 0); // 20 + 30 KiB > 40 KiB: not kept
    expect(ks.takeBuffer(30 * 1024)).toBeUndefined();
    expect(ks.takeBuffer(20 * 1024)?.[0]).toBe(2);
    ks.setString("k", big(30 * 1024, 5), ks.get("k"), 0); // room again
    expect(ks.takeBuffer(30 * 1024)?.[0]).toBe(4);
    ks.setString("s", Buffer.from("small"), undefined, 0);
    ks.setString("s", Buffer.from("other"), ks.get("s"), 0);
    expect(ks.takeBuffer(5)).toBeUndefined();
  });

  it("recycles copies of 4 KiB or more (own ArrayBuffers), not the smaller slices of Node's pool", () => {
    const ks = new Keyspace(() => 0, 1024 * 1024);
    const first = own(Buffer.alloc(4096, 1), ks);
    ks.setString("k", first, undefined, 0);
    ks.setString("k", own(Buffer.alloc(4096, 2), ks), ks.get("k"), 0);
    const third = own(Buffer.alloc(4096, 3), ks);
    expect(third).toBe(first); // the dropped one, now holding the new bytes
    expect(third[0]).toBe(3);
    ks.setString("s", own(Buffer.alloc(100, 1), ks), undefined, 0);
    ks.setString("s", own(Buffer.alloc(100, 2), ks), ks.get("s"), 0);
    expect(ks.takeBuffer(100)).toBeUndefined();
  });

  it("never recycles a value a queued reply still references, and zero-fills spares at the wipe", () => {
    const ks = new Keyspace(() => 0, 1024 * 1024);
    const queued = big(20 * 1024, 7);
    ks.setString("k", queued, undefined, 0);
    const r = new Reply();
    r.bulk(queued); // a GET's reply, not written yet
    ks.setString("k", big(20 * 1024, 8), ks.get("k"), 0);
    expect(ks.takeBuffer(20 * 1024)).toBeUndefined();
    for (const c of r.take()) written(c); // the socket is done with it
    const spare = ks.get("k")!.value as Buffer;
    ks.setString("k", big(20 * 1024, 9), ks.get("k"), 0);
    ks.wipe();
    expect(spare.every((x) => x === 0)).toBe(true);
    expect(ks.takeBuffer(20 * 1024)).toBeUndefined();
    expect(queued[0]).toBe(7);
  });
});
