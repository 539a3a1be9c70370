/** Lease authentication: tokens verified offline against a JWKS, one lease per connection, end of term. */
import { beforeAll, describe, expect, it } from "vitest";
import { generateKeyPair } from "jose";
import { cmd, Raw, startIssuer, startLeaseServer, useLeaseServer } from "./helpers.ts";

const NODE = "node-auth";
const WRONGPASS = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
const node = useLeaseServer(NODE, { maxUnauthenticatedConnections: 20, authTimeoutMs: 1500 });

beforeAll(() => {
  node.server.open({ contractId: "c-a", quotaBytes: 1 << 20, endsAt: Date.now() + 3_600_000 });
  node.server.open({ contractId: "c-b", quotaBytes: 1 << 20, endsAt: Date.now() + 3_600_000 });
});

async function authReply(...args: string[]): Promise<string> {
  const c = await Raw.open(node.port);
  try {
    c.send(cmd("AUTH", ...args));
    c.send(cmd("PING"));
    return (await c.replies(2)).map(String).join("");
  } finally {
    c.close();
  }
}

describe("lease auth", () => {
  it("answers NOAUTH before AUTH, then serves the lease after AUTH <contract> <token> or AUTH <token>", async () => {
    const c = await Raw.open(node.port);
    c.send(cmd("PING"));
    c.send(cmd("SET", "k", "v"));
    expect((await c.replies(2)).map(String)).toEqual(["-NOAUTH Authentication required.\r\n", "-NOAUTH Authentication required.\r\n"]);
    c.close();
    const t = await node.issuer.token("c-a");
    expect(await authReply("c-a", t)).toBe("+OK\r\n+PONG\r\n");
    expect(await authReply(t)).toBe("+OK\r\n+PONG\r\n");
  });

  it("refuses with WRONGPASS: another lease's token, a mismatched user, wrong aud/iss, expired, not yet valid, unknown contract, bad signature, garbage", async () => {
    const now = Math.floor(Date.now() / 1000);
    const other = await node.issuer.token("c-b");
    const { privateKey } = await generateKeyPair("ES256");
    const cases: Array<[string, string[]]> = [
      ["another lease's token under this lease's name", ["c-a", other]],
      ["wrong audience", ["c-a", await node.issuer.token("c-a", { aud: "some-other-node" })]],
      ["wrong issuer", ["c-a", await node.issuer.token("c-a", { iss: "not-mnemo" })]],
      ["expired", ["c-a", await node.issuer.token("c-a", { nbf: now - 7200, exp: now - 3600 })]],
      ["not yet valid", ["c-a", await node.issuer.token("c-a", { nbf: now + 3600, exp: now + 7200 })]],
      ["a contract this node does not hold", ["c-zzz", await node.issuer.token("c-zzz")]],
      ["signed by another key under the published kid", ["c-a", await node.issuer.token("c-a", {}, { key: privateKey })]],
      ["garbage", ["c-a", "not-a-token"]],
      ["binary garbage", ["c-a", "\u0000\u00ff.\u0001.x"]],
    ];
    for (const [what, args] of cases) {
      expect(await authReply(...args), what).toBe(WRONGPASS + "-NOAUTH Authentication required.\r\n");
    }
  });

  it("fetches the JWKS again when a token names a key it has not seen (key rotation)", async () => {
    expect(await authReply("c-a", await node.issuer.token("c-a"))).toBe("+OK\r\n+PONG\r\n");
    const before = node.issuer.fetches();
    await node.issuer.rotate();
    expect(await authReply("c-a", await node.issuer.token("c-a"))).toBe("+OK\r\n+PONG\r\n");
    expect(node.issuer.fetches()).toBe(before + 1);
  });

  it("answers WRONGPASS and tells the operator when the JWKS cannot be fetched", async () => {
    const events: string[] = [];
    const dead = await startIssuer(NODE);
    await dead.close(); // its port now refuses connections
    const { server: s2, port: p2 } = await startLeaseServer(dead, NODE, { log: (event) => events.push(event) });
    s2.open({ contractId: "c-a", quotaBytes: 1 << 20, endsAt: Date.now() + 60_000 });
    const c = await Raw.open(p2);
    c.send(cmd("AUTH", "c-a", await node.issuer.token("c-a")));
    expect(String((await c.replies(1))[0])).toBe(WRONGPASS);
    expect(events).toContain("lease_auth_unavailable");
    c.close();
    await s2.close();
  });

  it("closes a lease's connections at end(), and a reconnect gets WRONGPASS", async () => {
    node.server.open({ contractId: "c-end", quotaBytes: 1 << 20, endsAt: Date.now() + 3_600_000 });
    const t = await node.issuer.token("c-end");
    const c = await Raw.open(node.port);
    c.send(cmd("AUTH", "c-end", t));
    c.send(cmd("SET", "k", "v"));
    expect((await c.replies(2)).map(String)).toEqual(["+OK\r\n", "+OK\r\n"]);
    const t0 = Date.now();
    const receipt = await node.server.end("c-end");
    expect(await c.waitClosed(2000)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(receipt.keys).toBe(1);
    expect(await authReply("c-end", t)).toBe(WRONGPASS + "-NOAUTH Authentication required.\r\n");
    expect(node.server.has("c-end")).toBe(false);
    // end() is idempotent: the same receipt again.
    expect(await node.server.end("c-end")).toEqual(receipt);
  });

  it("closes connections when the term passes without renewal, keeps them when setEnd moved it", async () => {
    const end = Date.now() + 700;
    node.server.open({ contractId: "c-exp", quotaBytes: 1 << 20, endsAt: end });
    node.server.open({ contractId: "c-ren", quotaBytes: 1 << 20, endsAt: end });
    const a = await Raw.open(node.port);
    const b = await Raw.open(node.port);
    a.send(cmd("AUTH", "c-exp", await node.issuer.token("c-exp")));
    b.send(cmd("AUTH", "c-ren", await node.issuer.token("c-ren")));
    expect(String((await a.replies(1))[0])).toBe("+OK\r\n");
    expect(String((await b.replies(1))[0])).toBe("+OK\r\n");
    node.server.setEnd("c-ren", Date.now() + 60_000);
    expect(await a.waitClosed(3000)).toBe(true);
    expect(Date.now() - end).toBeLessThan(2000);
    b.send(cmd("PING"));
    expect(String((await b.replies(1))[0])).toBe("+PONG\r\n");
    expect(b.closed).toBe(false);
    // After its term a lease takes no new connections either, even with a valid token.
    expect(await authReply("c-exp", await node.issuer.token("c-exp"))).toBe(WRONGPASS + "-NOAUTH Authentication required.\r\n");
    b.close();
    await node.server.end("c-exp");
    await node.server.end("c-ren");
  });

  it("caps unauthenticated connections and closes idle ones after the auth timeout", async () => {
    const held: Raw[] = [];
    for (let i = 0; i < 20; i++) held.push(await Raw.open(node.port));
    const extra = await Raw.open(node.port);
    expect(await extra.waitClosed(2000)).toBe(true);
    expect(extra.take().toString()).toBe("-ERR max number of clients reached\r\n");
    // An authenticated connection does not count against the cap.
    held[0]!.send(cmd("AUTH", "c-a", await node.issuer.token("c-a")));
    expect(String((await held[0]!.replies(1))[0])).toBe("+OK\r\n");
    const next = await Raw.open(node.port);
    next.send(cmd("PING"));
    expect(String((await next.replies(1))[0])).toBe("-NOAUTH Authentication required.\r\n");
    // The idle unauthenticated ones go after authTimeoutMs (1.5 s here); the authenticated one stays.
    expect(await held[1]!.waitClosed(4000)).toBe(true);
    expect(held[0]!.closed).toBe(false);
    for (const h of [...held, next]) h.close();
  });

  it("caps connections per lease", async () => {
    const { server: s2, port: p2 } = await startLeaseServer(node.issuer, NODE, { maxConnectionsPerLease: 2 });
    s2.open({ contractId: "c-a", quotaBytes: 1 << 20, endsAt: Date.now() + 60_000 });
    const t = await node.issuer.token("c-a");
    const conns: Raw[] = [];
    const replies: string[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await Raw.open(p2);
      c.send(cmd("AUTH", "c-a", t));
      replies.push(String((await c.replies(1))[0]));
      conns.push(c);
    }
    expect(replies).toEqual(["+OK\r\n", "+OK\r\n", WRONGPASS]);
    conns[0]!.close();
    await new Promise((r) => setTimeout(r, 100));
    conns[2]!.send(cmd("AUTH", "c-a", t));
    expect(String((await conns[2]!.replies(1))[0])).toBe("+OK\r\n");
    for (const c of conns) c.close();
    await s2.close();
  });

  it("applies Redis's unauthenticated limits before AUTH and lifts them after", async () => {
    const c = await Raw.open(node.port);
    c.send(cmd("AUTH", "c-a", await node.issuer.token("c-a")));
    const big = "z".repeat(100_000);
    c.send(cmd("ECHO", big));
    const r = await c.replies(2);
    expect(String(r[0])).toBe("+OK\r\n");
    expect(r[1]!.length).toBe("$100000\r\n".length + 100_000 + 2);
    c.close();
    const d = await Raw.open(node.port);
    d.send(cmd("ECHO", big));
    expect(await d.waitClosed(3000)).toBe(true);
    expect(d.take().toString()).toBe("-ERR Protocol error: unauthenticated bulk length\r\n");
  });
});
