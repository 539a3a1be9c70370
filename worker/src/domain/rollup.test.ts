import { describe, expect, it } from "vitest";
import type { NodeLive } from "./capacity";
import { durationBounds } from "./offer";
import { rollupRegion, spreadOf, utilisationPct } from "./rollup";

function node(over: Partial<NodeLive>): NodeLive {
  return {
    id: "n",
    providerId: "p",
    name: "n",
    nodeType: "datacenter",
    region: "eu-west",
    latitude: null,
    longitude: null,
    totalRamGb: 0,
    totalVramGb: 0,
    reportedRamGb: 0,
    reportedVramGb: 0,
    priceNano: 0,
    uptimeScore: 99,
    baseLatencyMs: 1,
    bandwidthMbps: 1000,
    status: "active",
    lastHeartbeatAt: null,
    createdAt: 0,
    heldRamGb: 0,
    heldVramGb: 0,
    availableRamGb: 0,
    availableVramGb: 0,
    ...over,
  };
}

describe("a region's roll-up", () => {
  const nodes = [
    node({
      id: "a",
      nodeType: "datacenter",
      totalRamGb: 64,
      totalVramGb: 16,
      heldRamGb: 8,
      heldVramGb: 4,
      availableRamGb: 50,
      availableVramGb: 12,
      priceNano: 300,
      latitude: 50,
      longitude: 2,
      lastHeartbeatAt: 1_000,
    }),
    node({
      id: "b",
      nodeType: "mist_node",
      status: "maintenance",
      totalRamGb: 16,
      heldRamGb: 2,
      availableRamGb: 14,
      priceNano: 100,
      latitude: 40,
      longitude: 4,
      lastHeartbeatAt: 3_000,
    }),
    node({
      id: "c",
      nodeType: "edge_cluster",
      status: "offline",
      totalRamGb: 128,
      heldRamGb: 0,
      availableRamGb: 128,
      priceNano: 1,
      latitude: 0,
      longitude: 0,
      lastHeartbeatAt: 9_000,
    }),
    node({ id: "d", nodeType: "edge_cluster", totalRamGb: 32, totalVramGb: 8, availableRamGb: 32, availableVramGb: 8, priceNano: 201 }),
  ];
  const r = rollupRegion("eu-west", nodes, 5);

  it("counts every node by status but sums only the nodes that are not offline", () => {
    expect(r.byStatus).toEqual({ active: 2, maintenance: 1, offline: 1 });
    expect(r.totalNodes).toBe(3);
    expect(r.composition).toEqual({ datacenter: 1, edge_cluster: 1, mist_node: 1 });
    expect([r.totalRamGb, r.totalVramGb, r.heldRamGb, r.heldVramGb]).toEqual([112, 24, 10, 4]);
    expect(r.reservations).toBe(5);
  });

  it("offers available memory only on active nodes (maintenance keeps what it holds, takes nothing new)", () => {
    expect([r.availableRamGb, r.availableVramGb]).toEqual([82, 20]);
  });

  it("averages price over counted nodes (rounded), sorts the prices, centers on located nodes, keeps the latest heartbeat", () => {
    expect(r.avgPriceNano).toBe(200); // (300 + 100 + 201) / 3 = 200.33
    expect(r.prices).toEqual([100, 201, 300]);
    expect(r.center).toEqual({ lat: 45, lng: 3 });
    expect(r.lastHeartbeatAt).toBe(3_000); // the offline node's later beat does not count
  });

  it("is empty, not NaN, for a region with no live nodes", () => {
    const empty = rollupRegion("x", [node({ status: "offline", totalRamGb: 8 })], 0);
    expect(empty).toMatchObject({ totalNodes: 0, totalRamGb: 0, avgPriceNano: 0, center: null, lastHeartbeatAt: null, prices: [] });
  });
});

describe("utilisation and price spread", () => {
  it("gives held/total in percent to two decimals, 0 with nothing", () => {
    expect(utilisationPct(1, 3)).toBe(33.33);
    expect(utilisationPct(2, 3)).toBe(66.67);
    expect(utilisationPct(5, 0)).toBe(0);
  });

  it("takes min, the lower median and max of sorted prices", () => {
    expect(spreadOf([])).toBeNull();
    expect(spreadOf([7])).toEqual({ min: 7, p50: 7, max: 7 });
    expect(spreadOf([1, 2, 3, 4])).toEqual({ min: 1, p50: 2, max: 4 });
    expect(spreadOf([1, 2, 3, 4, 5])).toEqual({ min: 1, p50: 3, max: 5 });
  });
});

describe("an offer's duration bounds", () => {
  it("are the offer's own, or one minute to one day without an offer", () => {
    expect(durationBounds({ minDurationSec: 300, maxDurationSec: 3_600 })).toEqual({ min: 300, max: 3_600 });
    expect(durationBounds(null)).toEqual({ min: 60, max: 86_400 });
    expect(durationBounds(undefined)).toEqual({ min: 60, max: 86_400 });
  });
});
