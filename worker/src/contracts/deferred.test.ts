// Creation answers once the capacity is reserved and the hold and contract row are committed; the
// confirm, the node's push and the renter's update follow through the ports' `defer` (a request's
// waitUntil). These tests hold both halves: the deferred push still reaches the agent, and a
// creation whose deferred confirm never ran is confirmed, not released, by the region's alarm.
import { describe, expect, it } from "vitest";
import { runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { api, credit, env, ready, register, registerNode } from "../../test/helpers";
import { clientRow, contractRow, ledgerOf } from "../../test/money";
import { createContract } from "./create";
import { announceCreated, portsFor, type ClusterPort, type CreatedNotice } from "../region/client";
import type { Reservation } from "../domain/capacity";

const stub = (region: string) => env.REGION_CLUSTER.get(env.REGION_CLUSTER.idFromName(region));

async function market() {
  const p = await register("provider");
  const region = "df-" + crypto.randomUUID().slice(0, 8);
  const node = await registerNode(p, { region, total_ram_gb: 64, total_vram_gb: 0, price_per_gb_sec: 0.000001 });
  const renter = await register("user");
  await credit(renter.id, 10);
  return { p, node, renter, region };
}

const reservation = async (region: string, id: string) => (await stub(region).reservationsOf(region)).find((r) => r.contractId === id);

async function until(what: string, ok: () => boolean, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Moves a reservation's creation back in time, past the region's provisional TTL. */
async function age(region: string, id: string, ms: number) {
  const older = (o: { reservations: Map<string, Reservation>; writeReservation(r: Reservation): void }) => {
    const r = o.reservations.get(id)!;
    o.writeReservation({ ...r, createdAt: r.createdAt - ms });
  };
  await runInDurableObject(stub(region) as unknown as DurableObjectStub, older as never);
}

describe("work deferred after a creation commits", () => {
  it("returns with the reservation, hold and row committed, and the deferred push still reaches the node's socket", async () => {
    const { p, node, renter, region } = await market();
    const key = (await api("POST", "/api/auth/api-keys", { token: p.token, body: { name: "agent" } })).body.api_key as string;
    const res = await SELF.fetch(`https://mnemo.test/ws/nodes/${node.id}`, { headers: { upgrade: "websocket", "x-api-key": key } });
    expect(res.status).toBe(101);
    const ws = res.webSocket!;
    const lists: any[][] = [];
    ws.addEventListener("message", (m) => {
      const msg = JSON.parse(m.data as string);
      if (msg.type === "contracts") lists.push(msg.data.contracts);
    });
    ws.accept();
    await until("the first list", () => lists.length >= 1);

    // A defer that holds the work back until the test lets it go, as a response sent before it runs.
    const deferred: Promise<void>[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const ports = portsFor(env);
    const real = ports.cluster(region);
    const held = {
      reserve: (r: string, q: Parameters<ClusterPort["reserve"]>[1]) => real.reserve(r, q),
      release: (r: string, id: string) => real.release(r, id),
      afterCreate: async (...a: Parameters<ClusterPort["afterCreate"]>) => (await gate, real.afterCreate(...a)),
      notifyUsers: async (...a: Parameters<ClusterPort["notifyUsers"]>) => (await gate, real.notifyUsers(...a)),
    } as unknown as ClusterPort;
    ports.cluster = (r) => (r === region ? held : real);
    ports.defer = (work) => void deferred.push(work);

    const k = await createContract(ports, { id: renter.id }, { nodeId: node.id, ramGb: 8, vramGb: 0, durationSec: 600, autoRenew: false });
    // What the caller is answered on is already true: the row, the hold in D1 and the reservation.
    expect(deferred.length).toBeGreaterThan(0);
    expect(await contractRow(k.id)).toMatchObject({ status: "pending", held_micro: k.heldMicro });
    expect((await ledgerOf({ contractId: k.id })).map((e) => e.kind)).toEqual(["hold"]);
    expect((await clientRow(renter.id)).held_micro).toBe(k.heldMicro);
    expect(await reservation(region, k.id)).toMatchObject({ state: "provisional", nodeId: node.id, ramGb: 8 });
    expect(lists.at(-1)).toEqual([]); // the agent has not heard yet

    release();
    await Promise.all(deferred);
    await until("the pushed contract", () => (lists.at(-1) ?? []).some((c) => c.id === k.id));
    expect(lists.at(-1)).toEqual([{ id: k.id, ram_gb: 8, vram_gb: 0, end_time: null, status: "pending" }]);
    expect(await reservation(region, k.id)).toMatchObject({ state: "held" });
    ws.close();
  });

  it("a creation whose confirm never ran is confirmed by the region's alarm; a reservation without a contract is released", async () => {
    const { node, renter, region } = await market();
    const ports = portsFor(env);
    const real = ports.cluster(region);
    // The deferred work is lost (the isolate went away after the response).
    const lost = {
      reserve: (r: string, q: Parameters<ClusterPort["reserve"]>[1]) => real.reserve(r, q),
      release: (r: string, id: string) => real.release(r, id),
      afterCreate: async () => [],
      notifyUsers: async () => 0,
    } as unknown as ClusterPort;
    ports.cluster = (r) => (r === region ? lost : real);
    const k = await createContract(ports, { id: renter.id }, { nodeId: node.id, ramGb: 8, vramGb: 0, durationSec: 600, autoRenew: false });
    expect(await reservation(region, k.id)).toMatchObject({ state: "provisional" });

    // And a reservation whose request died before D1: same age, no contract row.
    const orphan = crypto.randomUUID();
    expect(
      await stub(region).reserve(region, { contractId: orphan, nodeId: node.id, ramGb: 4, vramGb: 0, clientUserId: renter.id }),
    ).toMatchObject({ ok: true });

    await age(region, k.id, 121_000);
    await age(region, orphan, 121_000);
    expect(await runDurableObjectAlarm(stub(region))).toBe(true);

    expect(await reservation(region, k.id)).toMatchObject({ state: "held", ramGb: 8 });
    expect(await reservation(region, orphan)).toBeUndefined();
    expect((await stub(region).getNode(region, node.id))!.heldRamGb).toBe(8);
    expect(await contractRow(k.id)).toMatchObject({ status: "pending", ended_at: null });
  });

  it("gathers the notices of concurrent requests into one call per region object, and sends what it gathered", async () => {
    const calls: { to: string; method: string; n: number }[] = [];
    const counting = (to: string) =>
      ({
        afterCreate: async (_r: string, items: CreatedNotice[]) => (
          calls.push({ to, method: "afterCreate", n: items.length }), items.filter((c) => c.contractId !== "k0").map((c) => c.contractId)
        ),
        notifyUsers: async (items: unknown[]) => (calls.push({ to, method: "notifyUsers", n: items.length }), items.length),
      }) as unknown as ClusterPort;
    const deferred: Promise<void>[] = [];
    const ports = { ...portsFor(env), cluster: counting, defer: (w: Promise<void>) => void deferred.push(w) };
    const notice = (i: number, home: string) => ({
      region: "g-east",
      home,
      contractId: `k${i}`,
      nodeId: `n${i % 3}`,
      userId: `u${i}`,
      message: { type: "contract_update", data: i },
    });
    // 250 requests at once (past the 200 a call carries), all on one region; two homes.
    await Promise.all(Array.from({ length: 250 }, (_, i) => announceCreated(ports, notice(i, i % 2 ? "g-east" : "global"))));
    expect(calls).toEqual([]); // nothing is sent before the gathering window closes
    await Promise.all(deferred);
    expect(deferred).toHaveLength(2); // one per gathering opened, each sent through its opener's waitUntil
    // The home region hears only of what the contract's region still found current (all but k0).
    expect(calls.sort((a, b) => a.method.localeCompare(b.method) || b.n - a.n)).toEqual([
      { to: "g-east", method: "afterCreate", n: 200 },
      { to: "g-east", method: "afterCreate", n: 50 },
      { to: "global", method: "notifyUsers", n: 99 },
      { to: "global", method: "notifyUsers", n: 25 },
    ]);
  });

  it("a burst of creations through one request context ends with every reservation held", async () => {
    const p = await register("provider");
    const region = "db-" + crypto.randomUUID().slice(0, 8);
    const nodes: { id: string }[] = [];
    for (let i = 0; i < 4; i++)
      nodes.push(await registerNode(p, { region, total_ram_gb: 64, total_vram_gb: 0, price_per_gb_sec: 0.000001 }));
    const renter = await register("user");
    await credit(renter.id, 10);
    const deferred: Promise<void>[] = [];
    const ports = { ...portsFor(env), defer: (w: Promise<void>) => void deferred.push(w) };
    const made = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        createContract(ports, { id: renter.id }, { nodeId: nodes[i % 4].id, ramGb: 2, vramGb: 0, durationSec: 600, autoRenew: false }),
      ),
    );
    await Promise.all(deferred);
    for (const k of made) expect(await reservation(region, k.id)).toMatchObject({ state: "held", ramGb: 2 });
    for (const n of nodes) expect((await stub(region).getNode(region, n.id))!.heldRamGb).toBe(6);
  });

  it("a creation notice that lands after the contract was activated is not sent: the renter never hears pending after active", async () => {
    const { p, node, renter, region } = await market();
    const sockets = [`?region=${region}`, ""].map(async (q) => {
      const res = await SELF.fetch(`https://mnemo.test/ws/${renter.clientId}${q}`, {
        headers: { upgrade: "websocket", "sec-websocket-protocol": `bearer, ${renter.token}` },
      });
      expect(res.status).toBe(101);
      const statuses: string[] = [];
      res.webSocket!.accept();
      res.webSocket!.addEventListener("message", (e) => {
        const m = JSON.parse(e.data as string);
        if (m.type === "contract_update") statuses.push(m.data.status);
      });
      return { ws: res.webSocket!, statuses };
    });
    const [here, home] = await Promise.all(sockets);

    const deferred: Promise<void>[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const ports = portsFor(env);
    const real = ports.cluster(region);
    const slow = {
      reserve: (r: string, q: Parameters<ClusterPort["reserve"]>[1]) => real.reserve(r, q),
      afterCreate: async (...a: Parameters<ClusterPort["afterCreate"]>) => (await gate, real.afterCreate(...a)),
    } as unknown as ClusterPort;
    ports.cluster = (r) => (r === region ? slow : portsFor(env).cluster(r));
    ports.defer = (work) => void deferred.push(work);
    const k = await createContract(ports, { id: renter.id }, { nodeId: node.id, ramGb: 8, vramGb: 0, durationSec: 600, autoRenew: false });

    await ready(p, node.id, k.id); // the agent learned of it from a heartbeat, before the gathered notice went out
    await until("the active update", () => here.statuses.includes("active") && home.statuses.includes("active"));
    release();
    await Promise.all(deferred);
    await new Promise((r) => setTimeout(r, 100)); // what was sent has arrived
    expect(here.statuses).toEqual(["active"]);
    expect(home.statuses).toEqual(["active"]);
    expect(await reservation(region, k.id)).toMatchObject({ state: "held" });
    here.ws.close();
    home.ws.close();
  });
});
