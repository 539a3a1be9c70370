// The Redis protocol on the wire: a streaming request parser and a reply writer.
//
// The parser works on the socket's own Buffers: small arguments are views into the chunk that
// carried them (the store copies what it keeps), large ones get their own exactly-sized buffer so
// a 1 MiB value is copied once, never re-concatenated as it trickles in. Every declared length is
// judged (by `admit`) before a byte of its payload is held, so no client can make us buffer more
// than what the lease allows plus a small fixed amount.

/** Redis's PROTO_INLINE_MAX_SIZE: the longest inline request or header line without its CRLF. */
export const INLINE_MAX = 64 * 1024;
/** Redis's proto-max-bulk-len. */
export const PROTO_MAX_BULK = 512 * 1024 * 1024;
/** Arguments at or above this size get their own buffer (allocUnsafeSlow: not a slice of a shared slab). */
export const LARGE_ARG = 16 * 1024;

export class ProtocolError extends Error {}

/** What `admit` decides for one declared bulk before its payload is read. */
export const ADMIT_OK = 0;
/** The command is refused with the returned reply; its remaining bytes are skipped, unbuffered. */
export const ADMIT_REFUSE = 1;

export interface ParserPolicy {
  /** Largest argument count accepted for a multibulk request. */
  maxArgs(): number;
  /** The protocol error for a multibulk count above maxArgs(). */
  argsError(): string;
  /**
   * Judges one declared bulk: `index` is its position, `args` the arguments already read.
   * Returns null to accept, a ProtocolError message to close, or a Buffer (a reply) to refuse
   * the command and skip the rest of it.
   */
  admit(args: Buffer[], index: number, len: number): null | string | Buffer;
  /** A buffer of exactly `len` bytes (≥ LARGE_ARG) for an argument, recycled where possible. */
  largeBuffer?(len: number): Buffer;
}

/** A complete request, or a refused one whose reply must be sent in its place. */
export type Parsed = { args: Buffer[]; refused: null } | { args: null; refused: Buffer };

const CR = 13;
const LF = 10;
const EMPTY = Buffer.alloc(0);

export class RespParser {
  private buf: Buffer = EMPTY;
  private pos = 0;
  private own: Buffer | null = null; // our growable copy of an incomplete frame (see feed)
  private ownLen = 0;
  // State of a multibulk request in progress.
  private remaining = 0; // arguments still to read; 0 = between requests
  private args: Buffer[] = [];
  private bulkLen = -1; // declared length of the argument being read; -1 = its header is next
  private big: Buffer | null = null; // destination of a large argument
  private bigFilled = 0;
  private skipping: Buffer | null = null; // reply of a refused command whose bytes we are discarding
  private skipLeft = 0; // payload+CRLF bytes of the current bulk still to discard

  private readonly policy: ParserPolicy;

  constructor(policy: ParserPolicy) {
    this.policy = policy;
  }

  /** Bytes received but not yet consumed (bounded: headers ≤ 64 KiB, small args < LARGE_ARG). */
  pending(): number {
    return this.buf.length - this.pos + this.bigFilled;
  }

  feed(chunk: Buffer): void {
    if (this.pos >= this.buf.length) {
      this.buf = chunk;
      this.pos = 0;
      return;
    }
    // An incomplete frame waits for more bytes. It is kept in a buffer of our own that grows by
    // doubling, so a frame trickling in one byte per packet costs linear time, not quadratic.
    const own = this.own;
    if (
      own !== null &&
      this.buf.buffer === own.buffer &&
      this.buf.byteOffset + this.buf.length === own.byteOffset + this.ownLen &&
      own.length - this.ownLen >= chunk.length
    ) {
      chunk.copy(own, this.ownLen);
      this.ownLen += chunk.length;
      const start = this.buf.byteOffset - own.byteOffset;
      this.buf = own.subarray(start, this.ownLen); // pos still indexes the same bytes
      return;
    }
    const left = this.buf.length - this.pos;
    const next = Buffer.allocUnsafe(Math.max(4096, 2 * (left + chunk.length)));
    this.buf.copy(next, 0, this.pos);
    chunk.copy(next, left);
    this.own = next;
    this.ownLen = left + chunk.length;
    this.buf = next.subarray(0, this.ownLen);
    this.pos = 0;
  }

  /**
   * The memory of `shared` (a read buffer the socket reuses) is about to be overwritten: copies
   * whatever the parser still needs from it — the unread tail and the arguments of a request not
   * complete yet. Only those are copied; a request that arrived whole in one read never is.
   */
  detach(shared: ArrayBufferLike): void {
    const left = this.buf.length - this.pos;
    if (left <= 0) {
      this.buf = EMPTY;
      this.pos = 0;
    } else if (this.buf.buffer === shared) {
      const next = Buffer.allocUnsafe(Math.max(4096, 2 * left));
      this.buf.copy(next, 0, this.pos);
      this.own = next;
      this.ownLen = left;
      this.buf = next.subarray(0, left);
      this.pos = 0;
    }
    const args = this.args;
    for (let i = 0; i < args.length; i++) if (args[i]!.buffer === shared) args[i] = Buffer.from(args[i]!);
  }

  /**
   * The rest of the large argument being received, when every byte fed so far is consumed: the
   * socket may read into it directly (then filledDirect). Null otherwise.
   */
  directTarget(): Buffer | null {
    const big = this.big;
    if (big === null || this.pos < this.buf.length || this.bigFilled >= big.length) return null;
    return big.subarray(this.bigFilled);
  }

  /** `n` bytes were read straight into directTarget(). */
  filledDirect(n: number): void {
    this.bigFilled += n;
  }

  /** The next request, or null when more bytes are needed. Throws ProtocolError on a bad frame. */
  next(): Parsed | null {
    for (;;) {
      if (this.remaining === 0) {
        const buf = this.buf;
        if (this.pos >= buf.length) return null;
        if (buf[this.pos] === 0x2a /* '*' */) {
          const n = this.readHeader(0x2a);
          if (n === null) return null;
          if (n <= 0) continue; // Redis ignores empty and null multibulks
          if (n > this.policy.maxArgs()) throw new ProtocolError(this.policy.argsError());
          this.remaining = n;
          this.args = [];
          this.bulkLen = -1;
        } else {
          const inline = this.readInline();
          if (inline === null) return null;
          if (inline.length === 0) continue;
          if (inline.length > this.policy.maxArgs()) throw new ProtocolError(this.policy.argsError());
          return { args: inline, refused: null };
        }
      }
      // Reading the arguments of a multibulk.
      while (this.remaining > 0) {
        if (this.bulkLen < 0) {
          const len = this.readHeader(0x24 /* '$' */);
          if (len === null) return null;
          if (this.skipping === null) {
            const verdict = this.policy.admit(this.args, this.args.length, len);
            if (typeof verdict === "string") throw new ProtocolError(verdict);
            if (verdict !== null) {
              this.skipping = verdict;
              this.args = [];
              this.bulkLen = len;
              this.skipLeft = len + 2;
              // The refusal is answered now, before the payload arrives.
              return { args: null, refused: verdict };
            }
          } else {
            this.skipLeft = len + 2;
          }
          this.bulkLen = len;
          if (this.skipping === null && len >= LARGE_ARG) {
            this.big = this.policy.largeBuffer?.(len) ?? Buffer.allocUnsafeSlow(len);
            this.bigFilled = 0;
          }
        }
        if (this.skipping !== null) {
          const avail = this.buf.length - this.pos;
          const n = Math.min(avail, this.skipLeft);
          // The CRLF after a skipped payload is not checked byte by byte: we are discarding.
          this.pos += n;
          this.skipLeft -= n;
          if (this.skipLeft > 0) return null;
          this.bulkLen = -1;
          this.remaining--;
          continue;
        }
        const len = this.bulkLen;
        if (this.big !== null) {
          const big = this.big;
          const want = len - this.bigFilled;
          if (want > 0) {
            const avail = this.buf.length - this.pos;
            const n = Math.min(avail, want);
            if (n > 0) this.buf.copy(big, this.bigFilled, this.pos, this.pos + n);
            this.pos += n;
            this.bigFilled += n;
            if (this.bigFilled < len) {
              if (this.pos >= this.buf.length) {
                this.buf = EMPTY;
                this.pos = 0;
              }
              return null;
            }
          }
          if (this.buf.length - this.pos < 2) return null;
          this.expectCrlf();
          this.args.push(big);
          this.big = null;
          this.bigFilled = 0;
        } else {
          if (this.buf.length - this.pos < len + 2) return null;
          const start = this.pos;
          this.pos += len;
          this.expectCrlf();
          this.args.push(this.buf.subarray(start, start + len));
        }
        this.bulkLen = -1;
        this.remaining--;
      }
      if (this.skipping !== null) {
        this.skipping = null; // the refused command is fully discarded; on to the next
        continue;
      }
      const args = this.args;
      this.args = [];
      return { args, refused: null };
    }
  }

  private expectCrlf(): void {
    // Redis does not check these two bytes either; it just skips them. Doing the same keeps
    // byte-for-byte parity with it on sloppy clients.
    this.pos += 2;
  }

  /** Reads `*<n>\r\n` or `$<n>\r\n`; null when the line is not complete yet. */
  private readHeader(marker: number): number | null {
    const buf = this.buf;
    const nl = buf.indexOf(CR, this.pos);
    if (nl < 0 || nl + 1 >= buf.length) {
      if (buf.length - this.pos > INLINE_MAX) {
        throw new ProtocolError(marker === 0x2a ? "too big mbulk count string" : "too big bulk count string");
      }
      return null;
    }
    if (buf[this.pos] !== marker) {
      throw new ProtocolError(`expected '$', got '${String.fromCharCode(buf[this.pos]!)}'`);
    }
    const n = parseLength(buf, this.pos + 1, nl);
    this.pos = nl + 2; // Redis skips "\r\n" without checking the LF
    if (marker === 0x2a) {
      if (n === null || n > 0x7fffffff) throw new ProtocolError("invalid multibulk length");
      return n;
    }
    if (n === null || n < 0 || n > PROTO_MAX_BULK) throw new ProtocolError("invalid bulk length");
    return n;
  }

  private readInline(): Buffer[] | null {
    const buf = this.buf;
    const nl = buf.indexOf(LF, this.pos);
    if (nl < 0) {
      if (buf.length - this.pos > INLINE_MAX) throw new ProtocolError("too big inline request");
      return null;
    }
    let end = nl;
    if (end > this.pos && buf[end - 1] === CR) end--;
    const line = buf.subarray(this.pos, end);
    this.pos = nl + 1;
    const args = splitArgs(line);
    if (args === null) throw new ProtocolError("unbalanced quotes in request");
    return args;
  }
}

/** A signed decimal as Redis's string2ll accepts it (no '+', no leading zeros, ≤ 19 digits). */
function parseLength(buf: Buffer, start: number, end: number): number | null {
  let i = start;
  let neg = false;
  if (i < end && buf[i] === 0x2d) {
    neg = true;
    i++;
  }
  if (i >= end || end - i > 19) return null;
  if (buf[i] === 0x30 && end - i > 1) return null;
  let n = 0;
  for (; i < end; i++) {
    const c = buf[i]! - 0x30;
    if (c < 0 || c > 9) return null;
    n = n * 10 + c;
  }
  if (neg && n === 0) return null;
  return neg ? -n : n;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

/** Redis's sdssplitargs: spaces separate, "double" quotes with escapes, 'single' quotes. */
export function splitArgs(line: Buffer): Buffer[] | null {
  const out: Buffer[] = [];
  let i = 0;
  const n = line.length;
  const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0x0b || c === 0x0c;
  for (;;) {
    while (i < n && isSpace(line[i]!)) i++;
    if (i >= n) return out;
    const cur: number[] = [];
    let inq = false;
    let insq = false;
    let done = false;
    while (!done) {
      if (inq) {
        if (i >= n) return null;
        const c = line[i]!;
        if (c === 0x5c && i + 3 < n && line[i + 1] === 0x78 && isHex(line[i + 2]!) && isHex(line[i + 3]!)) {
          cur.push(parseInt(String.fromCharCode(line[i + 2]!, line[i + 3]!), 16));
          i += 3;
        } else if (c === 0x5c && i + 1 < n) {
          i++;
          const e = line[i]!;
          cur.push(e === 0x6e ? 10 : e === 0x72 ? 13 : e === 0x74 ? 9 : e === 0x62 ? 8 : e === 0x61 ? 7 : e);
        } else if (c === 0x22) {
          if (i + 1 < n && !isSpace(line[i + 1]!)) return null;
          done = true;
        } else {
          cur.push(c);
        }
      } else if (insq) {
        if (i >= n) return null;
        const c = line[i]!;
        if (c === 0x5c && i + 1 < n && line[i + 1] === 0x27) {
          i++;
          cur.push(0x27);
        } else if (c === 0x27) {
          if (i + 1 < n && !isSpace(line[i + 1]!)) return null;
          done = true;
        } else {
          cur.push(c);
        }
      } else {
        if (i >= n) {
          done = true;
          break;
        }
        const c = line[i]!;
        if (isSpace(c)) done = true;
        else if (c === 0x22) inq = true;
        else if (c === 0x27) insq = true;
        else cur.push(c);
      }
      if (i < n) i++;
    }
    out.push(Buffer.from(cur));
  }
}

// ---------------------------------------------------------------------------------------------
// Replies. A connection collects the replies of one read's worth of requests in a Reply and
// writes them with one socket write; large bulk values are passed through as their own Buffers
// (no copy into the batch).

const CRLF = Buffer.from("\r\n");
const smallInts: Buffer[] = [];
for (let i = 0; i < 1024; i++) smallInts.push(Buffer.from(`:${i}\r\n`));
const bulkHeaders: Buffer[] = [];
for (let i = 0; i < 1024; i++) bulkHeaders.push(Buffer.from(`$${i}\r\n`));

export const R_OK = Buffer.from("+OK\r\n");
export const R_PONG = Buffer.from("+PONG\r\n");
export const R_NIL2 = Buffer.from("$-1\r\n");
export const R_NIL3 = Buffer.from("_\r\n");
export const R_NILARR2 = Buffer.from("*-1\r\n");
export const R_ZERO = smallInts[0]!;
export const R_ONE = smallInts[1]!;
export const R_EMPTY_ARR = Buffer.from("*0\r\n");

/** Copies below this size go into the batch; larger values are written as their own chunk. */
export const INLINE_COPY = 16 * 1024;

/**
 * Large buffers referenced by replies not yet written, by backing store → count. A stored value
 * dropped by an overwrite is recycled (Keyspace.recycle) only when it is not here: its bytes
 * are about to be reused and must not change under a reply still queued for a socket.
 */
export const outbound = new WeakMap<ArrayBufferLike, number>();

/** A queued reply chunk was written (or dropped): the buffer it referenced is free again. */
export function written(b: Buffer): void {
  const n = outbound.get(b.buffer);
  if (n === undefined) return;
  if (n <= 1) outbound.delete(b.buffer);
  else outbound.set(b.buffer, n - 1);
}

export class Reply {
  /** RESP protocol version of the connection: 2 or 3. */
  proto = 2;
  private chunks: Buffer[] = [];
  // Replies are assembled in `cur` from `start` to `len`; a taken batch is a view of it, and the
  // next batch continues after it, so one 16 KiB block serves many small batches.
  private cur: Buffer = EMPTY; // allocated on first use: idle connections hold nothing
  private start = 0;
  private len = 0;
  bytes = 0;

  private room(n: number): void {
    if (this.len + n <= this.cur.length) return;
    this.flushCur();
    this.cur = Buffer.allocUnsafe(Math.max(n, 16 * 1024));
    this.start = 0;
    this.len = 0;
  }

  private flushCur(): void {
    if (this.len > this.start) {
      this.chunks.push(this.cur.subarray(this.start, this.len));
      this.start = this.len;
    }
  }

  raw(b: Buffer): void {
    if (b.length >= INLINE_COPY) {
      this.flushCur();
      this.chunks.push(b);
      outbound.set(b.buffer, (outbound.get(b.buffer) ?? 0) + 1);
    } else {
      this.room(b.length);
      b.copy(this.cur, this.len);
      this.len += b.length;
    }
    this.bytes += b.length;
  }

  ascii(s: string): void {
    this.room(s.length);
    this.len += this.cur.write(s, this.len, "latin1");
    this.bytes += s.length;
  }

  simple(s: string): void {
    this.ascii(`+${s}\r\n`);
  }

  error(s: string): void {
    // Error texts never carry CR/LF: a client's bytes echoed in one are made safe first.
    this.ascii(`-${s.replace(/[\r\n]/g, " ")}\r\n`);
  }

  int(n: number): void {
    if (n >= 0 && n < 1024 && Number.isInteger(n)) this.raw(smallInts[n]!);
    else this.ascii(`:${n}\r\n`);
  }

  bigint(n: bigint): void {
    this.ascii(`:${n}\r\n`);
  }

  bulk(b: Buffer): void {
    const n = b.length;
    if (n < 1024) this.raw(bulkHeaders[n]!);
    else this.ascii(`$${n}\r\n`);
    this.raw(b);
    this.raw(CRLF);
  }

  bulkStr(s: string): void {
    this.bulk(Buffer.from(s, "latin1"));
  }

  nil(): void {
    this.raw(this.proto === 3 ? R_NIL3 : R_NIL2);
  }

  nilArray(): void {
    this.raw(this.proto === 3 ? R_NIL3 : R_NILARR2);
  }

  array(n: number): void {
    this.ascii(`*${n}\r\n`);
  }

  /** A map of n pairs: `%n` in RESP3, a flat array of 2n in RESP2. */
  map(n: number): void {
    this.ascii(this.proto === 3 ? `%${n}\r\n` : `*${n * 2}\r\n`);
  }

  /** A verbatim text (INFO): `=len\r\ntxt:...` in RESP3, a bulk string in RESP2. */
  verbatim(s: string): void {
    if (this.proto === 3) {
      const b = Buffer.from(s, "utf8");
      this.ascii(`=${b.length + 4}\r\ntxt:`);
      this.raw(b);
      this.raw(CRLF);
    } else {
      this.bulk(Buffer.from(s, "utf8"));
    }
  }

  empty(): boolean {
    return this.len === this.start && this.chunks.length === 0;
  }

  /**
   * Every batch taken so far has been written out (the socket holds none of it): the next
   * replies may be assembled over the same bytes instead of in a fresh block.
   */
  reuse(): void {
    if (this.chunks.length === 0) this.start = this.len = 0;
  }

  /** Takes what was collected, leaving the Reply empty. */
  take(): Buffer[] {
    this.flushCur();
    const out = this.chunks;
    this.chunks = [];
    return out;
  }
}
