// The command set of a lease (API.md, "Lease endpoints"), with Redis 7.0's replies and errors.
import type { Conn } from "./server.ts";
import { R_OK, R_PONG, R_ZERO, R_ONE, type Reply } from "./resp.ts";
import { FIELD_OVERHEAD, KEY_OVERHEAD, T_HASH, T_STRING, globMatch, own, type Entry, type HashEntry, type Keyspace } from "./store.ts";

export const REDIS_VERSION = "7.0.15";
export const OOM = "OOM command not allowed when used memory > 'maxmemory'.";
const WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INT = "ERR value is not an integer or out of range";
const SYNTAX = "ERR syntax error";
export const NOAUTH = "NOAUTH Authentication required.";
export const WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled.";
const HELLO_NOAUTH =
  "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time";

type Fn = (c: Conn, a: Buffer[]) => void | Promise<void>;
export interface Command {
  name: string;
  arity: number; // Redis's convention: n = exactly n, -n = at least n (the name counts)
  /** Its value arguments (index ≥ 2) count against the quota before they are read. */
  write: boolean;
  /** Allowed before AUTH. */
  noauth: boolean;
  fn: Fn;
  subs?: Map<string, { name: string; arity: number; fn: Fn }>;
}

const str = (b: Buffer) => b.toString("latin1");
const lower = (b: Buffer) => b.toString("latin1").toLowerCase();

const I64_MAX = (1n << 63n) - 1n;
const I64_MIN = -(1n << 63n);

/** Redis's string2ll: an optional '-', digits, no leading zeros, no '+', within int64. */
export function parseI64(b: Buffer): bigint | null {
  const n = b.length;
  if (n === 0 || n > 20) return null;
  let i = 0;
  if (b[0] === 0x2d) {
    if (n === 1) return null;
    i = 1;
  }
  if (b[i] === 0x30) return n === 1 ? 0n : null;
  for (let j = i; j < n; j++) if (b[j]! < 0x30 || b[j]! > 0x39) return null;
  const v = BigInt(b.toString("latin1"));
  return v > I64_MAX || v < I64_MIN ? null : v;
}

function ks(c: Conn): Keyspace {
  return c.lease!.ks;
}

/** Looks a key up and checks its type; replies WRONGTYPE and returns false on a mismatch. */
function typed(c: Conn, key: string, type: number): Entry | undefined | false {
  const e = ks(c).get(key);
  if (e !== undefined && e.type !== type) {
    c.reply.error(WRONGTYPE);
    return false;
  }
  return e;
}

function fits(c: Conn, delta: number): boolean {
  const l = c.lease!;
  if (delta > 0 && l.ks.used + delta > l.quota) {
    c.reply.error(OOM);
    return false;
  }
  return true;
}

function stringSize(key: string, value: number): number {
  return key.length + value + KEY_OVERHEAD;
}

// ---- connection ------------------------------------------------------------------------------

const ping: Fn = (c, a) => {
  if (a.length > 2) return c.reply.error("ERR wrong number of arguments for 'ping' command");
  if (a.length === 2) c.reply.bulk(a[1]!);
  else c.reply.raw(R_PONG);
};

const auth: Fn = (c, a) => {
  if (a.length > 3) return c.reply.error(SYNTAX);
  const user = a.length === 3 ? a[1]! : null;
  const pass = a[a.length - 1]!;
  return c.authenticate(user, pass).then((ok) => {
    if (ok) c.reply.raw(R_OK);
    else c.reply.error(WRONGPASS);
  });
};

const hello: Fn = (c, a) => {
  let ver = c.reply.proto;
  if (a.length >= 2) {
    const v = parseI64(a[1]!);
    if (v === null) return c.reply.error("ERR Protocol version is not an integer or out of range");
    if (v < 2n || v > 3n) return c.reply.error("NOPROTO unsupported protocol version");
    ver = Number(v);
  }
  let user: Buffer | null = null;
  let pass: Buffer | null = null;
  let setname: Buffer | null = null;
  for (let j = 2; j < a.length; j++) {
    const more = a.length - 1 - j;
    const opt = lower(a[j]!);
    if (opt === "auth" && more >= 2) {
      user = a[j + 1]!;
      pass = a[j + 2]!;
      j += 2;
    } else if (opt === "setname" && more >= 1) {
      setname = Buffer.from(a[j + 1]!); // kept past an await: the read buffer is reused
      if (!validName(setname)) return c.reply.error("ERR Client names cannot contain spaces, newlines or special characters.");
      j++;
    } else {
      return c.reply.error(`ERR Syntax error in HELLO option '${str(a[j]!)}'`);
    }
  }
  const finish = () => {
    if (c.lease === null) return c.reply.error(HELLO_NOAUTH);
    if (setname !== null) c.name = setname.length ? Buffer.from(setname) : null;
    c.reply.proto = ver;
    const r = c.reply;
    r.map(7);
    r.bulkStr("server");
    r.bulkStr("redis");
    r.bulkStr("version");
    r.bulkStr(REDIS_VERSION);
    r.bulkStr("proto");
    r.int(ver);
    r.bulkStr("id");
    r.int(c.id);
    r.bulkStr("mode");
    r.bulkStr("standalone");
    r.bulkStr("role");
    r.bulkStr("master");
    r.bulkStr("modules");
    r.array(0);
  };
  if (user !== null && pass !== null) {
    return c.authenticate(user, pass).then((ok) => {
      if (!ok) c.reply.error(WRONGPASS);
      else finish();
    });
  }
  finish();
};

function validName(b: Buffer): boolean {
  for (const ch of b) if (ch < 0x21 || ch > 0x7e) return false;
  return true;
}

const select: Fn = (c, a) => {
  const v = parseI64(a[1]!);
  if (v === null) return c.reply.error(NOT_INT);
  if (v > 0x7fffffffn || v < -0x80000000n) return c.reply.error("ERR value is out of range, value must between -2147483648 and 2147483647");
  if (v !== 0n) return c.reply.error("ERR DB index is out of range");
  c.reply.raw(R_OK);
};

const clientSubs = new Map<string, { name: string; arity: number; fn: Fn }>([
  ["id", { name: "client|id", arity: 2, fn: (c) => c.reply.int(c.id) }],
  [
    "setname",
    {
      name: "client|setname",
      arity: 3,
      fn: (c, a) => {
        const n = a[2]!;
        if (!validName(n)) return c.reply.error("ERR Client names cannot contain spaces, newlines or special characters.");
        c.name = n.length ? Buffer.from(n) : null;
        c.reply.raw(R_OK);
      },
    },
  ],
  ["getname", { name: "client|getname", arity: 2, fn: (c) => (c.name ? c.reply.bulk(c.name) : c.reply.nil()) }],
  [
    "setinfo",
    {
      name: "client|setinfo",
      arity: 4,
      fn: (c, a) => {
        const attr = lower(a[2]!);
        if (attr !== "lib-name" && attr !== "lib-ver") return c.reply.error(`ERR Unrecognized option '${str(a[2]!)}'`);
        if (!validName(a[3]!)) return c.reply.error(`ERR ${attr} cannot contain spaces, newlines or special characters.`);
        c.reply.raw(R_OK);
      },
    },
  ],
]);

const CONFIGS: Array<[string, (c: Conn) => string]> = [
  ["maxmemory", (c) => String(c.lease!.quota)],
  ["maxmemory-policy", () => "noeviction"],
  ["save", () => ""],
  ["appendonly", () => "no"],
];

const configSubs = new Map<string, { name: string; arity: number; fn: Fn }>([
  [
    "get",
    {
      name: "config|get",
      arity: -3,
      fn: (c, a) => {
        const out: Array<[string, string]> = [];
        const seen = new Set<string>();
        for (let i = 2; i < a.length; i++) {
          const pat = str(a[i]!);
          for (const [name, value] of CONFIGS) {
            if (!seen.has(name) && globMatch(pat, name, true)) {
              seen.add(name);
              out.push([name, value(c)]);
            }
          }
        }
        c.reply.map(out.length);
        for (const [k, v] of out) {
          c.reply.bulkStr(k);
          c.reply.bulkStr(v);
        }
      },
    },
  ],
]);

const commandSubs = new Map<string, { name: string; arity: number; fn: Fn }>([
  ["count", { name: "command|count", arity: 2, fn: (c) => c.reply.int(COMMANDS.size) }],
  // Clients only use DOCS for hints (redis-cli); an empty answer is what they handle best.
  ["docs", { name: "command|docs", arity: -2, fn: (c) => c.reply.map(0) }],
]);

const info: Fn = (c, a) => {
  const l = c.lease!;
  const s = c.server;
  const want = new Set(a.slice(1).map((b) => lower(b)));
  const all = want.size === 0 || want.has("all") || want.has("everything") || want.has("default");
  const sections: Array<[string, Array<[string, string | number]>]> = [
    [
      "Server",
      [
        ["redis_version", REDIS_VERSION],
        ["redis_mode", "standalone"],
        ["os", "mnemo-agent lease"],
        ["arch_bits", 64],
        ["tcp_port", s.port],
        ["uptime_in_seconds", Math.floor((s.now() - l.openedAt) / 1000)],
      ],
    ],
    ["Clients", [["connected_clients", l.conns.size]]],
    [
      "Memory",
      [
        ["used_memory", l.ks.used],
        ["used_memory_human", human(l.ks.used)],
        ["maxmemory", l.quota],
        ["maxmemory_human", human(l.quota)],
        ["maxmemory_policy", "noeviction"],
      ],
    ],
    [
      "Persistence",
      [
        ["loading", 0],
        ["rdb_bgsave_in_progress", 0],
        ["aof_enabled", 0],
      ],
    ],
    [
      "Stats",
      [
        ["total_connections_received", l.connectionsReceived],
        ["total_commands_processed", l.commands],
        ["total_net_input_bytes", l.bytesIn],
        ["total_net_output_bytes", l.bytesOut],
        ["expired_keys", l.ks.expiredKeys],
        ["evicted_keys", 0],
      ],
    ],
    [
      "Replication",
      [
        ["role", "master"],
        ["connected_slaves", 0],
      ],
    ],
    ["Keyspace", l.ks.map.size ? [["db0", `keys=${l.ks.map.size},expires=${l.ks.volatile.size},avg_ttl=0`]] : []],
  ];
  let out = "";
  for (const [name, fields] of sections) {
    if (!all && !want.has(name.toLowerCase())) continue;
    if (out) out += "\r\n";
    out += `# ${name}\r\n`;
    for (const [k, v] of fields) out += `${k}:${v}\r\n`;
  }
  c.reply.verbatim(out);
};

function human(n: number): string {
  if (n < 1024) return `${n}B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(2)}K`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(2)}M`;
  return `${(n / 1024 ** 3).toFixed(2)}G`;
}

// ---- strings ---------------------------------------------------------------------------------

const get: Fn = (c, a) => {
  const e = typed(c, str(a[1]!), T_STRING);
  if (e === false) return;
  if (e === undefined) c.reply.nil();
  else c.reply.bulk(e.value as Buffer);
};

const NX = 1,
  XX = 2,
  GET = 4,
  KEEPTTL = 8,
  EX = 16,
  PX = 32,
  EXAT = 64,
  PXAT = 128;
const ANY_EXPIRE = EX | PX | EXAT | PXAT;

const set: Fn = (c, a) => {
  let flags = 0;
  let expireArg: Buffer | null = null;
  for (let j = 3; j < a.length; j++) {
    const o = a[j]!;
    const next = j + 1 < a.length;
    const opt = o.length <= 7 ? lower(o) : "";
    if (opt === "nx" && !(flags & XX)) flags |= NX;
    else if (opt === "xx" && !(flags & NX)) flags |= XX;
    else if (opt === "get") flags |= GET;
    else if (opt === "keepttl" && !(flags & ANY_EXPIRE)) flags |= KEEPTTL;
    else if ((opt === "ex" || opt === "px" || opt === "exat" || opt === "pxat") && !(flags & (KEEPTTL | ANY_EXPIRE)) && next) {
      flags |= opt === "ex" ? EX : opt === "px" ? PX : opt === "exat" ? EXAT : PXAT;
      expireArg = a[++j]!;
    } else return c.reply.error(SYNTAX);
  }
  let expiresAt = 0;
  if (expireArg !== null) {
    const v = parseI64(expireArg);
    if (v === null) {
      c.reply.error(NOT_INT);
      return;
    }
    const at = expireAt(c, v, flags & (EX | EXAT) ? 1000n : 1n, !!(flags & (EXAT | PXAT)));
    if (at === null) return c.reply.error("ERR invalid expire time in 'set' command");
    expiresAt = at;
  }
  const key = str(a[1]!);
  const store = ks(c);
  const old = store.get(key);
  if (flags & GET && old !== undefined && old.type !== T_STRING) return c.reply.error(WRONGTYPE);
  const replyOld = () => (old === undefined ? c.reply.nil() : c.reply.bulk(old.value as Buffer));
  if ((flags & NX && old !== undefined) || (flags & XX && old === undefined)) {
    if (flags & GET) replyOld();
    else c.reply.nil();
    return;
  }
  const value = a[2]!;
  if (!fits(c, stringSize(key, value.length) - (old?.size ?? 0))) return;
  const keep = flags & KEEPTTL && old !== undefined ? old.expiresAt : expiresAt;
  if (flags & GET) replyOld();
  else c.reply.raw(R_OK);
  store.setString(key, own(value, store), old, keep);
};

/** An absolute expiry in ms, or null where Redis answers "invalid expire time". */
function expireAt(c: Conn, v: bigint, unit: bigint, absolute: boolean): number | null {
  if (v <= 0n) return null;
  if (v > I64_MAX / unit) return null;
  let ms = v * unit;
  if (!absolute) {
    ms += BigInt(Math.floor(c.server.now()));
    if (ms > I64_MAX) return null;
  }
  return Number(ms);
}

const setnx: Fn = (c, a) => {
  const key = str(a[1]!);
  const store = ks(c);
  if (store.get(key) !== undefined) return c.reply.raw(R_ZERO);
  if (!fits(c, stringSize(key, a[2]!.length))) return;
  store.setString(key, own(a[2]!, store), undefined, 0);
  c.reply.raw(R_ONE);
};

const mget: Fn = (c, a) => {
  const store = ks(c);
  c.reply.array(a.length - 1);
  for (let i = 1; i < a.length; i++) {
    const e = store.get(str(a[i]!));
    if (e === undefined || e.type !== T_STRING) c.reply.nil();
    else c.reply.bulk(e.value);
  }
};

const mset: Fn = (c, a) => {
  if (a.length % 2 === 0) return c.reply.error("ERR wrong number of arguments for 'mset' command");
  const store = ks(c);
  let delta = 0;
  const seen = new Set<string>();
  for (let i = a.length - 2; i >= 1; i -= 2) {
    const key = str(a[i]!);
    if (seen.has(key)) continue; // the last value for a key wins
    seen.add(key);
    delta += stringSize(key, a[i + 1]!.length) - (store.get(key)?.size ?? 0);
  }
  if (!fits(c, delta)) return;
  for (let i = 1; i < a.length; i += 2) {
    const key = str(a[i]!);
    store.setString(key, own(a[i + 1]!, store), store.get(key), 0);
  }
  c.reply.raw(R_OK);
};

const getdel: Fn = (c, a) => {
  const key = str(a[1]!);
  const e = typed(c, key, T_STRING);
  if (e === false) return;
  if (e === undefined) return c.reply.nil();
  c.reply.bulk(e.value as Buffer);
  ks(c).remove(key, e);
};

const append: Fn = (c, a) => {
  const key = str(a[1]!);
  const e = typed(c, key, T_STRING);
  if (e === false) return;
  const add = a[2]!;
  const cur = e === undefined ? null : (e.value as Buffer);
  const len = (cur?.length ?? 0) + add.length;
  if (len > 512 * 1024 * 1024) return c.reply.error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
  if (!fits(c, stringSize(key, len) - (e?.size ?? 0))) return;
  let value: Buffer;
  if (cur === null) value = own(add);
  else {
    // Stored values are never mutated (a reply may still reference one): build a new one.
    value = len >= 16 * 1024 ? Buffer.allocUnsafeSlow(len) : Buffer.allocUnsafe(len);
    cur.copy(value, 0);
    add.copy(value, cur.length);
  }
  ks(c).setString(key, value, e, e === undefined ? 0 : e.expiresAt);
  c.reply.int(len);
};

const strlen: Fn = (c, a) => {
  const e = typed(c, str(a[1]!), T_STRING);
  if (e === false) return;
  c.reply.int(e === undefined ? 0 : (e.value as Buffer).length);
};

function incrBy(c: Conn, keyBuf: Buffer, by: bigint): void {
  const key = str(keyBuf);
  const e = typed(c, key, T_STRING);
  if (e === false) return;
  let cur = 0n;
  if (e !== undefined) {
    const v = parseI64(e.value as Buffer);
    if (v === null) {
      c.reply.error(NOT_INT);
      return;
    }
    cur = v;
  }
  const next = cur + by;
  if (next > I64_MAX || next < I64_MIN) {
    c.reply.error("ERR increment or decrement would overflow");
    return;
  }
  const value = Buffer.from(next.toString(), "latin1");
  if (!fits(c, stringSize(key, value.length) - (e?.size ?? 0))) return;
  ks(c).setString(key, value, e, e === undefined ? 0 : e.expiresAt);
  c.reply.bigint(next);
}

const byArg = (c: Conn, b: Buffer, negate: boolean): bigint | null => {
  const v = parseI64(b);
  if (v === null) {
    c.reply.error(NOT_INT);
    return null;
  }
  if (negate && v === I64_MIN) {
    c.reply.error("ERR decrement would overflow");
    return null;
  }
  return negate ? -v : v;
};

// ---- keys ------------------------------------------------------------------------------------

const exists: Fn = (c, a) => {
  const store = ks(c);
  let n = 0;
  for (let i = 1; i < a.length; i++) if (store.get(str(a[i]!)) !== undefined) n++;
  c.reply.int(n);
};

const del: Fn = (c, a) => {
  const store = ks(c);
  let n = 0;
  for (let i = 1; i < a.length; i++) {
    const key = str(a[i]!);
    const e = store.get(key);
    if (e !== undefined) {
      store.remove(key, e);
      n++;
    }
  }
  c.reply.int(n);
};

const type: Fn = (c, a) => {
  const e = ks(c).get(str(a[1]!));
  c.reply.simple(e === undefined ? "none" : e.type === T_STRING ? "string" : "hash");
};

function expireCmd(unit: bigint, name: string): Fn {
  return (c, a) => {
    let nx = false,
      xx = false,
      gt = false,
      lt = false;
    for (let j = 3; j < a.length; j++) {
      const o = lower(a[j]!);
      if (o === "nx") nx = true;
      else if (o === "xx") xx = true;
      else if (o === "gt") gt = true;
      else if (o === "lt") lt = true;
      else return c.reply.error(`ERR Unsupported option ${str(a[j]!)}`);
    }
    if (nx && (xx || gt || lt)) return c.reply.error("ERR NX and XX, GT or LT options at the same time are not compatible");
    if (gt && lt) return c.reply.error("ERR GT and LT options at the same time are not compatible");
    const v = parseI64(a[2]!);
    if (v === null) {
      c.reply.error(NOT_INT);
      return;
    }
    if (v > I64_MAX / unit || v < I64_MIN / unit) return c.reply.error(`ERR invalid expire time in '${name}' command`);
    const now = BigInt(Math.floor(c.server.now()));
    const when = v * unit + now;
    if (when > I64_MAX || when < I64_MIN) return c.reply.error(`ERR invalid expire time in '${name}' command`);
    const key = str(a[1]!);
    const store = ks(c);
    const e = store.get(key);
    if (e === undefined) return c.reply.raw(R_ZERO);
    const cur = e.expiresAt === 0 ? null : BigInt(e.expiresAt);
    if ((nx && cur !== null) || (xx && cur === null) || (gt && (cur === null || when <= cur)) || (lt && cur !== null && when >= cur)) {
      return c.reply.raw(R_ZERO);
    }
    if (when <= now) store.remove(key, e);
    else store.setExpiry(key, e, Number(when));
    c.reply.raw(R_ONE);
  };
}

function ttlCmd(ms: boolean): Fn {
  return (c, a) => {
    const e = ks(c).get(str(a[1]!));
    if (e === undefined) return c.reply.int(-2);
    if (e.expiresAt === 0) return c.reply.int(-1);
    const left = Math.max(0, e.expiresAt - Math.floor(c.server.now()));
    c.reply.int(ms ? left : Math.floor((left + 500) / 1000));
  };
}

const persist: Fn = (c, a) => {
  const key = str(a[1]!);
  const e = ks(c).get(key);
  if (e === undefined || e.expiresAt === 0) return c.reply.raw(R_ZERO);
  ks(c).setExpiry(key, e, 0);
  c.reply.raw(R_ONE);
};

const scan: Fn = (c, a) => {
  const cs = str(a[1]!);
  // strtoull as Redis uses it: a '-' wraps around; any such cursor is past every key here.
  if (!/^-?[0-9]+$/.test(cs) || cs.length > 21 || BigInt(cs) > 0xffffffffffffffffn) return c.reply.error("ERR invalid cursor");
  const cursor = cs.startsWith("-") ? Number.MAX_SAFE_INTEGER : Number(BigInt(cs));
  let count = 10;
  let pattern: string | null = null;
  let typeName: string | null = null;
  for (let j = 2; j < a.length; j++) {
    const o = lower(a[j]!);
    const more = a.length - j - 1;
    if (o === "count" && more >= 1) {
      const v = parseI64(a[j + 1]!);
      if (v === null) {
        c.reply.error(NOT_INT);
        return;
      }
      if (v < 1n) return c.reply.error(SYNTAX);
      count = Number(v > 1_000_000n ? 1_000_000n : v);
      j++;
    } else if (o === "match" && more >= 1) {
      pattern = str(a[j + 1]!);
      if (pattern === "*") pattern = null;
      j++;
    } else if (o === "type" && more >= 1) {
      typeName = lower(a[j + 1]!);
      j++;
    } else return c.reply.error(SYNTAX);
  }
  const wantType = typeName === null ? 0 : typeName === "string" ? T_STRING : typeName === "hash" ? T_HASH : -1;
  const { next, keys } = ks(c).scan(
    cursor,
    count,
    (k, e) => (wantType === 0 || e.type === wantType) && (pattern === null || globMatch(pattern, k)),
  );
  c.reply.array(2);
  c.reply.bulkStr(String(next));
  c.reply.array(keys.length);
  for (const k of keys) c.reply.bulkStr(k);
};

const flush: Fn = (c, a) => {
  if (a.length > 2) return c.reply.error(SYNTAX);
  if (a.length === 2) {
    const o = lower(a[1]!);
    if (o !== "sync" && o !== "async") return c.reply.error(SYNTAX);
  }
  ks(c).flush();
  c.reply.raw(R_OK);
};

// ---- hashes ----------------------------------------------------------------------------------

const hset: Fn = (c, a) => {
  if (a.length % 2 !== 0) return c.reply.error("ERR wrong number of arguments for 'hset' command");
  const key = str(a[1]!);
  const e = typed(c, key, T_HASH) as HashEntry | undefined | false;
  if (e === false) return;
  let delta = e === undefined ? key.length + KEY_OVERHEAD : 0;
  const seen = new Set<string>();
  for (let i = a.length - 2; i >= 2; i -= 2) {
    const f = str(a[i]!);
    if (seen.has(f)) continue;
    seen.add(f);
    const old = e?.value.get(f);
    delta += old === undefined ? f.length + a[i + 1]!.length + FIELD_OVERHEAD : a[i + 1]!.length - old.length;
  }
  if (!fits(c, delta)) return;
  const h = e ?? ks(c).newHash(key);
  let added = 0;
  for (let i = 2; i < a.length; i += 2) {
    const f = str(a[i]!);
    const v = own(a[i + 1]!);
    const old = h.value.get(f);
    if (old === undefined) {
      added++;
      h.size += f.length + v.length + FIELD_OVERHEAD;
      ks(c).used += f.length + v.length + FIELD_OVERHEAD;
    } else {
      h.size += v.length - old.length;
      ks(c).used += v.length - old.length;
    }
    h.value.set(f, v);
  }
  c.reply.int(added);
};

function hashOf(c: Conn, keyBuf: Buffer): HashEntry | undefined | false {
  return typed(c, str(keyBuf), T_HASH) as HashEntry | undefined | false;
}

const hget: Fn = (c, a) => {
  const h = hashOf(c, a[1]!);
  if (h === false) return;
  const v = h?.value.get(str(a[2]!));
  if (v === undefined) c.reply.nil();
  else c.reply.bulk(v);
};

const hmget: Fn = (c, a) => {
  const h = hashOf(c, a[1]!);
  if (h === false) return;
  c.reply.array(a.length - 2);
  for (let i = 2; i < a.length; i++) {
    const v = h?.value.get(str(a[i]!));
    if (v === undefined) c.reply.nil();
    else c.reply.bulk(v);
  }
};

const hgetall: Fn = (c, a) => {
  const h = hashOf(c, a[1]!);
  if (h === false) return;
  if (h === undefined) return c.reply.map(0);
  c.reply.map(h.value.size);
  for (const [f, v] of h.value) {
    c.reply.bulkStr(f);
    c.reply.bulk(v);
  }
};

const hdel: Fn = (c, a) => {
  const key = str(a[1]!);
  const h = hashOf(c, a[1]!);
  if (h === false) return;
  if (h === undefined) return c.reply.raw(R_ZERO);
  let n = 0;
  for (let i = 2; i < a.length; i++) {
    const f = str(a[i]!);
    const v = h.value.get(f);
    if (v === undefined) continue;
    h.value.delete(f);
    const sz = f.length + v.length + FIELD_OVERHEAD;
    h.size -= sz;
    ks(c).used -= sz;
    n++;
    if (h.value.size === 0) {
      ks(c).remove(key, h);
      break;
    }
  }
  c.reply.int(n);
};

const hexists: Fn = (c, a) => {
  const h = hashOf(c, a[1]!);
  if (h === false) return;
  c.reply.raw(h !== undefined && h.value.has(str(a[2]!)) ? R_ONE : R_ZERO);
};

const hlen: Fn = (c, a) => {
  const h = hashOf(c, a[1]!);
  if (h === false) return;
  c.reply.int(h === undefined ? 0 : h.value.size);
};

// ---- the table -------------------------------------------------------------------------------

export const COMMANDS = new Map<string, Command>();
function def(name: string, arity: number, fn: Fn, o: { write?: boolean; noauth?: boolean; subs?: Command["subs"] } = {}): void {
  COMMANDS.set(name, { name, arity, fn, write: o.write ?? false, noauth: o.noauth ?? false, subs: o.subs });
}
const unknownSub: Fn = () => {};

def("ping", -1, ping);
def("echo", 2, (c, a) => c.reply.bulk(a[1]!));
def("hello", -1, hello, { noauth: true });
def("auth", -2, auth, { noauth: true });
def("quit", -1, (c) => c.quit(), { noauth: true });
def("select", 2, select);
def("client", -2, unknownSub, { subs: clientSubs });
def("info", -1, info);
def("config", -2, unknownSub, { subs: configSubs });
def("command", -1, (c) => c.reply.array(0), { subs: commandSubs });
def("dbsize", 1, (c) => c.reply.int(ks(c).map.size));
def("get", 2, get);
def("set", -3, set, { write: true });
def("mget", -2, mget);
def("mset", -3, mset, { write: true });
def("setnx", 3, setnx, { write: true });
def("getdel", 2, getdel);
def("append", 3, append, { write: true });
def("strlen", 2, strlen);
def("incr", 2, (c, a) => incrBy(c, a[1]!, 1n), { write: true });
def("decr", 2, (c, a) => incrBy(c, a[1]!, -1n), { write: true });
def(
  "incrby",
  3,
  (c, a) => {
    const by = byArg(c, a[2]!, false);
    if (by !== null) incrBy(c, a[1]!, by);
  },
  { write: true },
);
def(
  "decrby",
  3,
  (c, a) => {
    const by = byArg(c, a[2]!, true);
    if (by !== null) incrBy(c, a[1]!, by);
  },
  { write: true },
);
def("exists", -2, exists);
def("del", -2, del);
def("unlink", -2, del);
def("type", 2, type);
def("expire", -3, expireCmd(1000n, "expire"));
def("pexpire", -3, expireCmd(1n, "pexpire"));
def("ttl", 2, ttlCmd(false));
def("pttl", 2, ttlCmd(true));
def("persist", 2, persist);
def("scan", -2, scan);
def("flushdb", -1, flush);
def("flushall", -1, flush);
def("hset", -4, hset, { write: true });
def("hget", 3, hget);
def("hmget", -3, hmget);
def("hgetall", 2, hgetall);
def("hdel", -3, hdel);
def("hexists", 3, hexists);
def("hlen", 2, hlen);

// Looking a command up by its bytes, case-insensitively, without building a string per request:
// a small hash over the lower-cased bytes, then a byte comparison.
const byHash = new Map<number, Array<{ bytes: Buffer; cmd: Command }>>();
function nameHash(b: Buffer, n: number): number {
  let h = n;
  for (let i = 0; i < n; i++) {
    let c = b[i]!;
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    h = (Math.imul(h, 31) + c) | 0;
  }
  return h;
}
for (const cmd of COMMANDS.values()) {
  const bytes = Buffer.from(cmd.name, "latin1");
  const h = nameHash(bytes, bytes.length);
  const list = byHash.get(h) ?? [];
  list.push({ bytes, cmd });
  byHash.set(h, list);
}

export function findCommand(b: Buffer): Command | undefined {
  const n = b.length;
  if (n === 0 || n > 16) return undefined;
  const list = byHash.get(nameHash(b, n));
  if (list === undefined) return undefined;
  outer: for (const { bytes, cmd } of list) {
    if (bytes.length !== n) continue;
    for (let i = 0; i < n; i++) {
      let c = b[i]!;
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      if (c !== bytes[i]) continue outer;
    }
    return cmd;
  }
  return undefined;
}

export type { Reply };
