/** Real Redis clients against a lease, unchanged: ioredis, redis-cli, redis-py (LMCache and Feast patterns). */
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { useLeaseServer } from "./helpers.ts";

const run = promisify(execFile);
const NODE = "node-clients";
const MiB = 1024 * 1024;
const node = useLeaseServer(NODE);

async function lease(quota = 256 * MiB) {
  const id = `c-cli-${Math.random().toString(36).slice(2, 10)}`;
  node.server.open({ contractId: id, quotaBytes: quota, endsAt: Date.now() + 3_600_000 });
  const token = await node.issuer.token(id);
  return { id, token, url: `redis://${id}:${token}@127.0.0.1:${node.port}/0` };
}

describe("real clients", () => {
  it("ioredis: LMCache's pattern (EXISTS/SET/GET/DEL, 4 MiB binary values) and Feast-style pipelines", async () => {
    const l = await lease();
    const r = new Redis(l.url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
    try {
      const kv = randomBytes(4 * MiB);
      const meta = Buffer.from(JSON.stringify({ fmt: "vllm", shape: [256, 8, 128] }));
      const key = "vllm@model@0@abc123";
      expect(await r.exists(`${key}metadata`)).toBe(0);
      expect(await r.set(`${key}kv_bytes`, kv)).toBe("OK");
      expect(await r.set(`${key}metadata`, meta)).toBe("OK");
      expect(await r.exists(`${key}metadata`)).toBe(1);
      expect((await r.getBuffer(`${key}metadata`))!.equals(meta)).toBe(true);
      expect((await r.getBuffer(`${key}kv_bytes`))!.equals(kv)).toBe(true);
      expect(await r.del(`${key}metadata`)).toBe(1);
      expect(await r.getBuffer(`${key}metadata`)).toBeNull();

      const p = r.pipeline();
      for (let i = 0; i < 50; i++) {
        p.hset(`feast:driver:${i}`, { trips_today: String(i), rating: "4.9", _ts: "1700000000" });
        p.expire(`feast:driver:${i}`, 3600);
      }
      p.hmget("feast:driver:7", "trips_today", "rating", "missing");
      p.hgetall("feast:driver:9");
      const res = await p.exec();
      expect(res!.every(([err]) => err === null)).toBe(true);
      expect(res![100]![1]).toEqual(["7", "4.9", null]);
      expect(res![101]![1]).toEqual({ trips_today: "9", rating: "4.9", _ts: "1700000000" });
      const keys: string[] = [];
      let cursor = "0";
      let rounds = 0;
      do {
        const [next, batch] = await r.scan(cursor, "MATCH", "feast:driver:*", "COUNT", 7);
        keys.push(...batch);
        cursor = next;
      } while (cursor !== "0" && ++rounds < 100);
      expect(new Set(keys).size).toBe(50);
      expect(await r.ttl("feast:driver:3")).toBeGreaterThan(3590);
      expect(await r.info("memory")).toContain("maxmemory_policy:noeviction");
    } finally {
      r.disconnect();
    }
    await node.server.end(l.id);
  });

  it("redis-cli -u redis://<contract>:<token>@host:port/0 PING → PONG, and RESP3 with -3", async () => {
    const l = await lease();
    const { stdout } = await run("/usr/bin/redis-cli", ["-u", l.url, "PING"]);
    expect(stdout).toBe("PONG\n");
    await run("/usr/bin/redis-cli", ["-u", l.url, "HSET", "h", "f", "v"]);
    const r3 = await run("/usr/bin/redis-cli", ["-3", "--no-raw", "-u", l.url, "HGETALL", "h"]);
    expect(r3.stdout).toBe('1# "f" => "v"\n');
    const bad = await run("/usr/bin/redis-cli", ["-u", `redis://${l.id}:wrong@127.0.0.1:${node.port}/0`, "PING"]);
    expect(bad.stdout + bad.stderr).toContain("WRONGPASS");
    await node.server.end(l.id);
  });

  it("redis-py from_url: binary values, pipelines with HSET mapping, HMGET, EXPIRE, HGETALL, SCAN MATCH, client name", async () => {
    const l = await lease();
    const py = `
import os, sys, redis
r = redis.Redis.from_url(sys.argv[1], client_name="feast-online")
assert r.ping()
blob = os.urandom(4 * 1024 * 1024)
assert r.set(b"lmcache:kv", blob)
assert r.get(b"lmcache:kv") == blob
assert r.exists(b"lmcache:kv") == 1
with r.pipeline(transaction=False) as p:
    for i in range(20):
        p.hset(f"feast:e:{i}", mapping={"f1": str(i), "f2": b"\\x00\\xff"})
        p.expire(f"feast:e:{i}", 600)
    p.hmget("feast:e:3", ["f1", "f2", "nope"])
    p.hgetall("feast:e:4")
    out = p.execute()
assert out[-2] == [b"3", b"\\x00\\xff", None], out[-2]
assert out[-1] == {b"f1": b"4", b"f2": b"\\x00\\xff"}, out[-1]
assert sorted(r.scan_iter(match="feast:e:1*", count=5)) == sorted([f"feast:e:{i}".encode() for i in [1] + list(range(10, 20))])
assert r.client_getname() == "feast-online" or r.client_getname() == b"feast-online"
assert r.delete(b"lmcache:kv") == 1
assert r.get(b"lmcache:kv") is None
print("ok")
`;
    const child = spawn("/usr/bin/python3", ["-c", py, l.url], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const code = await new Promise((r) => child.on("exit", r));
    expect(out.trim()).toBe("ok");
    expect(code).toBe(0);
    await node.server.end(l.id);
  });
});
