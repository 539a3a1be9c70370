// One lease's keyspace: strings and hashes with expiry, counted against the lease's quota.
//
// Keys (and hash fields) are held as latin1 strings: a lossless one-char-per-byte mapping, so
// any binary key works, Map lookups stay fast, and comparing two such strings compares their
// bytes. Values are Buffers, never strings, and are never mutated after they are stored (a reply
// may still be in a socket's queue), except by the zero-fill at the end of the lease.
import { createHash } from "node:crypto";
import { outbound } from "./resp.ts";

/** Bytes counted for each key on top of its key and value bytes (documented in agent/README.md). */
export const KEY_OVERHEAD = 96;
/** Bytes counted for each hash field on top of its field and value bytes. */
export const FIELD_OVERHEAD = 48;
/** Values at or above this size get their own allocation instead of a slice of a shared slab. */
const OWN_ALLOC = 16 * 1024;

export const T_STRING = 1;
export const T_HASH = 2;

export interface StringEntry {
  type: typeof T_STRING;
  value: Buffer;
  expiresAt: number; // epoch ms; 0 = no expiry
  size: number; // what this key counts against the quota
  seq: number; // insertion order, for SCAN cursors
}
export interface HashEntry {
  type: typeof T_HASH;
  value: Map<string, Buffer>;
  expiresAt: number;
  size: number;
  seq: number;
}
export type Entry = StringEntry | HashEntry;

/**
 * A copy the store may keep. Large buffers from the parser are already private allocations
 * (RespParser gives each argument ≥ 16 KiB its own buffer), so they are kept as they are.
 */
export function own(b: Buffer, ks?: Keyspace): Buffer {
  if (b.length >= OWN_ALLOC && b.byteOffset === 0 && b.buffer.byteLength === b.length) return b;
  if (b.length >= RECYCLE_MIN) {
    // Node gives a copy this size its own ArrayBuffer anyway (its pool serves smaller ones only).
    const c = ks?.takeBuffer(b.length) ?? Buffer.allocUnsafeSlow(b.length);
    b.copy(c);
    return c;
  }
  return Buffer.from(b);
}

/** Values from this size have their own ArrayBuffer and may be recycled (Keyspace.recycle). */
const RECYCLE_MIN = 4096;

export class Keyspace {
  readonly map = new Map<string, Entry>();
  /** Keys with an expiry, for active expiry and INFO. */
  readonly volatile = new Set<string>();
  used = 0;
  expiredKeys = 0;
  private seq = 0;
  private sweep: Iterator<string> | null = null;
  /** SCAN positions: cursor → a live Map iterator positioned at that cursor. */
  private cursors = new Map<number, { it: Iterator<[string, Entry]>; head: [string, Entry] | null }>();
  private readonly now: () => number;
  /**
   * Values (≥ 4 KiB) an overwrite dropped, by length, handed back for the next argument or copy
   * of that length. Every new 1 MiB ArrayBuffer counts as external memory for V8, and it answers
   * a stream of them with back-to-back full collections (most of the CPU of a 1 MiB SET, by the
   * profile); reusing the dropped ones keeps it quiet and saves the page faults of fresh memory.
   * Bounded by `spareLimit` bytes: memory that is not leased, so it stays a few % of the quota.
   */
  private spare = new Map<number, Buffer[]>();
  private spareBytes = 0;
  private readonly spareLimit: number;

  constructor(now: () => number, spareLimit = 0) {
    this.now = now;
    this.spareLimit = spareLimit;
  }

  /** A recycled buffer of exactly `len` bytes (its old content is overwritten by the caller). */
  takeBuffer(len: number): Buffer | undefined {
    const list = this.spare.get(len);
    const b = list?.pop();
    if (b === undefined) return undefined;
    if (list!.length === 0) this.spare.delete(len);
    this.spareBytes -= len;
    return b;
  }

  /** Keeps a dropped value for reuse when nothing else can still see it (see takeBuffer). */
  private recycle(b: Buffer): void {
    const n = b.length;
    if (n < RECYCLE_MIN || b.byteOffset !== 0 || b.buffer.byteLength !== n) return; // a view or a slab slice
    if (this.spareBytes + n > this.spareLimit || outbound.has(b.buffer)) return;
    let list = this.spare.get(n);
    if (list === undefined) this.spare.set(n, (list = []));
    list.push(b);
    this.spareBytes += n;
  }

  /** The live entry for a key (expired keys are removed on access, as Redis does lazily). */
  get(key: string): Entry | undefined {
    const e = this.map.get(key);
    if (e !== undefined && e.expiresAt !== 0 && e.expiresAt <= this.now()) {
      this.remove(key, e);
      this.expiredKeys++;
      return undefined;
    }
    return e;
  }

  remove(key: string, e: Entry): void {
    this.map.delete(key);
    if (e.expiresAt !== 0) this.volatile.delete(key);
    this.used -= e.size;
  }

  /** Sets a string value, keeping (keepTtl) or clearing the key's expiry. */
  setString(key: string, value: Buffer, old: Entry | undefined, expiresAt: number): void {
    const size = key.length + value.length + KEY_OVERHEAD;
    if (old !== undefined) {
      if (old.type === T_STRING) {
        this.used += size - old.size;
        if (old.value !== value) this.recycle(old.value);
        old.value = value;
        old.size = size;
        this.setExpiry(key, old, expiresAt);
        return;
      }
      this.remove(key, old);
    }
    const e: StringEntry = { type: T_STRING, value, expiresAt: 0, size, seq: ++this.seq };
    this.map.set(key, e);
    this.setExpiry(key, e, expiresAt);
    this.used += size;
  }

  newHash(key: string): HashEntry {
    const e: HashEntry = { type: T_HASH, value: new Map(), expiresAt: 0, size: key.length + KEY_OVERHEAD, seq: ++this.seq };
    this.map.set(key, e);
    this.used += e.size;
    return e;
  }

  setExpiry(key: string, e: Entry, expiresAt: number): void {
    if (expiresAt === e.expiresAt) return;
    if (expiresAt === 0) this.volatile.delete(key);
    else if (e.expiresAt === 0) this.volatile.add(key);
    e.expiresAt = expiresAt;
  }

  /** Active expiry: looks at up to `budget` keys with an expiry, resuming where it left off. */
  expireSome(budget: number): void {
    if (this.volatile.size === 0) return;
    const now = this.now();
    for (let i = 0; i < budget; i++) {
      if (this.sweep === null) this.sweep = this.volatile.values();
      const r = this.sweep.next();
      if (r.done) {
        this.sweep = null;
        return;
      }
      const e = this.map.get(r.value);
      if (e !== undefined && e.expiresAt !== 0 && e.expiresAt <= now) {
        this.remove(r.value, e);
        this.expiredKeys++;
      }
    }
  }

  flush(): void {
    this.map.clear();
    this.volatile.clear();
    this.cursors.clear();
    this.sweep = null;
    this.used = 0;
  }

  /**
   * One SCAN step. The cursor is the insertion number of the next key to visit (0 = start), so
   * every key present for the whole scan is returned, even when keys come and go in between.
   */
  scan(cursor: number, count: number, accept: (key: string, e: Entry) => boolean): { next: number; keys: string[] } {
    let pos = cursor === 0 ? null : this.cursors.get(cursor);
    if (cursor !== 0) this.cursors.delete(cursor);
    if (pos === undefined || pos === null) {
      // No live iterator for this cursor (start, or evicted): find it by insertion number.
      const it = this.map.entries();
      let head: [string, Entry] | null = null;
      for (;;) {
        const r = it.next();
        if (r.done) break;
        if (r.value[1].seq >= cursor) {
          head = r.value;
          break;
        }
      }
      pos = { it, head };
    }
    const keys: string[] = [];
    const now = this.now();
    let visited = 0;
    let head = pos.head;
    while (head !== null && visited < count) {
      const [k, e] = head;
      // A key deleted after the iterator reached it may still be the head: check it is live.
      if (this.map.get(k) === e && !(e.expiresAt !== 0 && e.expiresAt <= now) && accept(k, e)) keys.push(k);
      visited++;
      const r = pos.it.next();
      head = r.done ? null : r.value;
    }
    if (head === null) return { next: 0, keys };
    const next = head[1].seq;
    if (this.cursors.size >= 64) this.cursors.delete(this.cursors.keys().next().value!);
    this.cursors.set(next, { it: pos.it, head });
    return { next, keys };
  }

  /** Live keys (expired ones excluded) in byte order. */
  private sortedLive(): string[] {
    const now = this.now();
    const keys: string[] = [];
    for (const [k, e] of this.map) if (!(e.expiresAt !== 0 && e.expiresAt <= now)) keys.push(k);
    keys.sort(byteOrder);
    return keys;
  }

  liveCount(): number {
    const now = this.now();
    let n = 0;
    for (const e of this.map.values()) if (!(e.expiresAt !== 0 && e.expiresAt <= now)) n++;
    return n;
  }

  /**
   * SHA-256 over the live keyspace, keys in byte order (layout in agent/README.md):
   *   string: 0x01, u64be key length, key, u64be value length, value
   *   hash:   0x02, u64be key length, key, u64be field count, then per field in byte order:
   *           u64be field length, field, u64be value length, value
   */
  digest(): string {
    const h = createHash("sha256");
    const n8 = Buffer.alloc(8);
    const u64 = (n: number) => {
      n8.writeBigUInt64BE(BigInt(n));
      h.update(n8);
    };
    for (const k of this.sortedLive()) {
      const e = this.map.get(k)!;
      h.update(e.type === T_STRING ? TAG_STRING : TAG_HASH);
      u64(k.length);
      h.update(Buffer.from(k, "latin1"));
      if (e.type === T_STRING) {
        u64(e.value.length);
        h.update(e.value);
      } else {
        const fields = [...e.value.keys()].sort(byteOrder);
        u64(fields.length);
        for (const f of fields) {
          const v = e.value.get(f)!;
          u64(f.length);
          h.update(Buffer.from(f, "latin1"));
          u64(v.length);
          h.update(v);
        }
      }
    }
    return h.digest("hex");
  }

  /** Zero-fills every value held (keys and fields are strings: dropped for the collector). */
  wipe(): void {
    for (const list of this.spare.values()) for (const b of list) b.fill(0);
    this.spare.clear();
    this.spareBytes = 0;
    for (const e of this.map.values()) {
      if (e.type === T_STRING) e.value.fill(0);
      else for (const v of e.value.values()) v.fill(0);
    }
    this.flush();
  }
}

const TAG_STRING = Buffer.from([T_STRING]);
const TAG_HASH = Buffer.from([T_HASH]);

/** Byte order of latin1 strings (one char per byte, so code-unit order is byte order). */
export function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Redis's stringmatchlen over latin1 strings: *, ?, [a-z], [^x], \ escapes. */
export function globMatch(pattern: string, str: string, nocase = false): boolean {
  return matchAt(pattern, 0, str, 0, nocase, 0);
}

function matchAt(p: string, pi: number, s: string, si: number, nocase: boolean, depth: number): boolean {
  if (depth > 1000) return false; // Redis bounds the recursion the same way (stringmatchlen_impl)
  const lower = (c: string) => (nocase ? c.toLowerCase() : c);
  while (pi < p.length && si <= s.length) {
    const c = p[pi]!;
    if (c === "*") {
      while (pi + 1 < p.length && p[pi + 1] === "*") pi++;
      if (pi + 1 === p.length) return true;
      for (let k = si; k <= s.length; k++) if (matchAt(p, pi + 1, s, k, nocase, depth + 1)) return true;
      return false;
    }
    if (si >= s.length) return false;
    if (c === "?") {
      si++;
      pi++;
      continue;
    }
    if (c === "[") {
      pi++;
      const not = p[pi] === "^";
      if (not) pi++;
      let match = false;
      for (;;) {
        if (pi >= p.length) {
          pi--; // Redis: a missing ']' ends the class at the pattern's end
          break;
        }
        if (p[pi] === "\\" && pi + 2 <= p.length - 1 + 1 && pi + 1 < p.length) {
          pi++;
          if (p[pi] === s[si]) match = true;
        } else if (p[pi] === "]") {
          break;
        } else if (pi + 2 < p.length && p[pi + 1] === "-") {
          let start = lower(p[pi]!);
          let end = lower(p[pi + 2]!);
          if (start > end) [start, end] = [end, start];
          const ch = lower(s[si]!);
          pi += 2;
          if (ch >= start && ch <= end) match = true;
        } else if (lower(p[pi]!) === lower(s[si]!)) {
          match = true;
        }
        pi++;
      }
      if (not) match = !match;
      if (!match) return false;
      si++;
      pi++;
      continue;
    }
    if (c === "\\" && pi + 1 < p.length) {
      pi++;
    }
    if (lower(p[pi]!) !== lower(s[si]!)) return false;
    si++;
    pi++;
  }
  while (pi < p.length && p[pi] === "*") pi++;
  return pi === p.length && si === s.length;
}
