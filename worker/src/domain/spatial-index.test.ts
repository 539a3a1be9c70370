import { describe, expect, it } from "vitest";
import { haversineKm } from "./geo";
import { type Candidate, type MatchRequest, type NodeType, filterOffers, matchNodes } from "./matching";
import { NodeIndex, topK } from "./spatial-index";
import { mulberry32 } from "../../test/prng";

const TYPES: NodeType[] = ["datacenter", "edge_cluster", "mist_node"];

/**
 * Nodes spread over places that trip grids up: a dense cluster, the antimeridian, both poles and
 * anywhere on the globe; some without coordinates, some not active, prices on a coarse ladder so
 * ties happen.
 */
function randomNodes(seed: number, count: number): Candidate[] {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const nodes: Candidate[] = [];
  for (let i = 0; i < count; i++) {
    const where = rnd();
    let lat: number | null, lng: number | null;
    if (where < 0.45) {
      lat = 48 + rnd() * 4;
      lng = 2 + rnd() * 4;
    } // a metro area
    else if (where < 0.6) {
      lat = -30 + rnd() * 60;
      lng = 178 + rnd() * 4;
    } // over 180°
    else if (where < 0.7) {
      lat = rnd() < 0.5 ? 88 + rnd() * 2 : -90 + rnd() * 2;
      lng = rnd() * 360 - 180;
    } else if (where < 0.95) {
      lat = rnd() * 180 - 90;
      lng = rnd() * 360 - 180;
    } else {
      lat = null;
      lng = null;
    }
    if (lng !== null && lng >= 180) lng -= 360;
    nodes.push({
      id: `node-${String(i).padStart(5, "0")}`,
      name: `node ${i}`,
      nodeType: pick(TYPES),
      region: rnd() < 0.9 ? "eu-west" : "us-east",
      latitude: lat,
      longitude: lng,
      availableRamGb: Math.floor(rnd() * 64),
      availableVramGb: Math.floor(rnd() * 24),
      priceNano: 100 * (1 + Math.floor(rnd() * 10)),
      uptimeScore: pick([90, 95, 99, 99.5, 100]),
      status: rnd() < 0.9 ? "active" : pick(["maintenance", "offline"] as const),
      baseLatencyMs: 1 + Math.floor(rnd() * 20),
    });
  }
  return nodes;
}

function randomRequests(seed: number, count: number): MatchRequest[] {
  const rnd = mulberry32(seed);
  const centres: Array<[number, number]> = [
    [50, 4],
    [0, 179.9],
    [0, -179.95],
    [89.5, 10],
    [-89.9, -100],
    [10, 20],
  ];
  const reqs: MatchRequest[] = [];
  for (let i = 0; i < count; i++) {
    const [lat, lng] = rnd() < 0.8 ? centres[i % centres.length] : [rnd() * 180 - 90, rnd() * 360 - 180];
    const withClient = rnd() < 0.85;
    reqs.push({
      ramGb: Math.floor(rnd() * 16),
      vramGb: rnd() < 0.5 ? 0 : Math.floor(rnd() * 8),
      durationSec: 60 + Math.floor(rnd() * 3600),
      maxPriceNano: rnd() < 0.3 ? 100 * (1 + Math.floor(rnd() * 10)) : null,
      preferLocal: rnd() < 0.7,
      maxDistanceKm: rnd() < 0.7 ? [10, 50, 200, 1000, 5000, 21000][Math.floor(rnd() * 6)] : null,
      minUptimeScore: rnd() < 0.2 ? 99 : null,
      region: rnd() < 0.2 ? "eu-west" : null,
      clientLat: withClient ? lat : null,
      clientLng: withClient ? lng : null,
      limit: [1, 10, 100][Math.floor(rnd() * 3)],
    });
  }
  return reqs;
}

function indexOf(nodes: Candidate[], cellDeg?: number): NodeIndex {
  const index = new NodeIndex({ cellDeg });
  for (const n of nodes) index.upsert(n);
  return index;
}

describe("NodeIndex.match agrees with the brute-force scan", () => {
  const nodes = randomNodes(42, 4000);
  const requests = randomRequests(7, 150);

  for (const cellDeg of [0.5, 2]) {
    it(`on 4,000 random nodes and 150 requests (cells of ${cellDeg}°)`, () => {
      const index = indexOf(nodes, cellDeg);
      let withRadius = 0,
        matched = 0;
      for (const req of requests) {
        const expected = matchNodes(nodes, req);
        expect(index.match(req)).toEqual(expected);
        if (req.maxDistanceKm != null && req.clientLat != null) withRadius++;
        if (expected.matches.length > 0) matched++;
      }
      // The random set exercised both paths and mostly found something.
      expect(withRadius).toBeGreaterThan(50);
      expect(requests.length - withRadius).toBeGreaterThan(30);
      expect(matched).toBeGreaterThan(100);
    });
  }

  it("after nodes move, change and leave", () => {
    const rnd = mulberry32(99);
    const index = indexOf(nodes);
    const live = new Map(nodes.map((n) => [n.id, n]));
    for (let step = 0; step < 3000; step++) {
      const n = nodes[Math.floor(rnd() * nodes.length)];
      const r = rnd();
      if (r < 0.2) {
        index.remove(n.id);
        live.delete(n.id);
      } else if (r < 0.6) {
        const moved: Candidate = { ...n, latitude: rnd() * 170 - 85, longitude: rnd() * 360 - 180 };
        index.upsert(moved);
        live.set(n.id, moved);
      } else if (r < 0.7) {
        const unplaced: Candidate = { ...n, latitude: null, longitude: null };
        index.upsert(unplaced);
        live.set(n.id, unplaced);
      } else {
        const changed: Candidate = {
          ...(live.get(n.id) ?? n),
          availableRamGb: Math.floor(rnd() * 64),
          priceNano: 100 * (1 + Math.floor(rnd() * 10)),
        };
        index.upsert(changed);
        live.set(n.id, changed);
      }
    }
    expect(index.size).toBe(live.size);
    for (const req of randomRequests(8, 60)) expect(index.match(req)).toEqual(matchNodes(live.values(), req));
  });
});

describe("NodeIndex.browse agrees with filterOffers", () => {
  const nodes = randomNodes(5, 3000);
  const index = indexOf(nodes);

  it("with and without a radius, whole and paged", () => {
    const filters = [
      {},
      { clientLat: 50, clientLng: 4 },
      { clientLat: 50, clientLng: 4, maxDistanceKm: 300 },
      { clientLat: 0, clientLng: -179.95, maxDistanceKm: 500, nodeType: "mist_node" as const },
      { clientLat: 89.9, clientLng: 0, maxDistanceKm: 400, minRamGb: 8 },
      { maxPriceNano: 300, minUptimeScore: 99, region: "eu-west", minVramGb: 4 },
    ];
    for (const f of filters) {
      const expected = filterOffers(nodes, f);
      expect(index.browse(f)).toEqual({ offers: expected, totalCount: expected.length });
      expect(index.browse(f, { limit: 50, offset: 0 })).toEqual({ offers: expected.slice(0, 50), totalCount: expected.length });
      expect(index.browse(f, { limit: 20, offset: 35 })).toEqual({ offers: expected.slice(35, 55), totalCount: expected.length });
      expect(index.browse(f, { limit: 10, offset: expected.length })).toEqual({ offers: [], totalCount: expected.length });
    }
  });
});

describe("NodeIndex.near", () => {
  const nodes = randomNodes(11, 3000).filter((n) => n.latitude !== null);
  const index = indexOf(nodes);

  it("returns every node within the radius, at the poles and across the antimeridian too", () => {
    const probes: Array<[number, number, number]> = [
      [50, 4, 100],
      [0, 179.99, 300],
      [0, -179.99, 300],
      [89.95, 0, 250],
      [-89.95, 45, 250],
      [20, 20, 15000],
    ];
    for (const [lat, lng, r] of probes) {
      const got = new Set(Array.from(index.near(lat, lng, r), (n) => n.id));
      const within = nodes.filter((n) => haversineKm(lat, lng, n.latitude!, n.longitude!) <= r);
      expect(within.length).toBeGreaterThan(0);
      for (const n of within) expect(got.has(n.id)).toBe(true);
    }
  });

  it("reads far fewer nodes than the region for a local search", () => {
    const got = Array.from(index.near(50, 4, 100));
    expect(got.length).toBeLessThan(nodes.length / 4);
  });

  it("keeps a node found at exactly the radius", () => {
    const small = new NodeIndex();
    small.upsert({ ...nodes[0], id: "edge", latitude: 10, longitude: 179.7 });
    const d = haversineKm(10.3, -179.8, 10, 179.7);
    expect(Array.from(small.near(10.3, -179.8, d), (n) => n.id)).toEqual(["edge"]);
    expect(
      small.match({
        ramGb: 0,
        vramGb: 0,
        durationSec: 60,
        preferLocal: true,
        clientLat: 10.3,
        clientLng: -179.8,
        maxDistanceKm: d,
        limit: 1,
      }).totalCandidates,
    ).toBe(nodes[0].status === "active" ? 1 : 0);
  });
});

describe("NodeIndex bookkeeping", () => {
  const n = (id: string, lat: number | null, lng: number | null): Candidate => ({
    id,
    name: id,
    nodeType: "mist_node",
    region: "r",
    latitude: lat,
    longitude: lng,
    availableRamGb: 8,
    availableVramGb: 0,
    priceNano: 100,
    uptimeScore: 95,
    status: "active",
    baseLatencyMs: 1,
  });

  it("upserts, moves between cells, loses and regains coordinates, and removes", () => {
    const index = new NodeIndex();
    index.upsert(n("a", 10, 10));
    index.upsert(n("b", 10, 10));
    index.upsert(n("c", null, null));
    expect(index.size).toBe(3);
    expect(Array.from(index.near(10, 10, 1), (x) => x.id).sort()).toEqual(["a", "b"]);
    expect(Array.from(index.unplacedNodes(), (x) => x.id)).toEqual(["c"]);

    index.upsert(n("a", -40, 170)); // moves cell
    expect(Array.from(index.near(10, 10, 1), (x) => x.id)).toEqual(["b"]);
    expect(Array.from(index.near(-40, 170, 1), (x) => x.id)).toEqual(["a"]);

    index.upsert(n("b", null, null)); // loses its position
    index.upsert(n("c", 10, 10)); // gains one
    expect(Array.from(index.near(10, 10, 1), (x) => x.id)).toEqual(["c"]);
    expect(Array.from(index.unplacedNodes(), (x) => x.id)).toEqual(["b"]);

    expect(index.remove("a")).toBe(true);
    expect(index.remove("a")).toBe(false);
    expect(index.has("a")).toBe(false);
    expect(index.get("c")?.latitude).toBe(10);
    expect(Array.from(index.near(-40, 170, 1000))).toEqual([]);
    expect(Array.from(index.values(), (x) => x.id).sort()).toEqual(["b", "c"]);
  });

  it("keeps its own copy, so a caller's later mutation cannot misplace a node", () => {
    const index = new NodeIndex();
    const mine = n("a", 10, 10);
    index.upsert(mine);
    mine.latitude = -50;
    expect(index.get("a")?.latitude).toBe(10);
    expect(Array.from(index.near(10, 10, 1), (x) => x.id)).toEqual(["a"]);
  });

  it("matches nodes without coordinates inside a radius search", () => {
    const index = new NodeIndex();
    index.upsert(n("here", 10, 10));
    index.upsert(n("far", 40, 40));
    index.upsert(n("unknown", null, null));
    const res = index.match({
      ramGb: 1,
      vramGb: 0,
      durationSec: 60,
      preferLocal: true,
      clientLat: 10,
      clientLng: 10,
      maxDistanceKm: 100,
      limit: 10,
    });
    expect(res.matches.map((m) => m.node.id)).toEqual(["here", "unknown"]);
    expect(res.totalCandidates).toBe(2);
  });
});

describe("topK", () => {
  it("returns the best k in order, like a full sort", () => {
    const rnd = mulberry32(3);
    const values = Array.from({ length: 500 }, () => Math.floor(rnd() * 100));
    const byValueThenIndex = (a: number, b: number) => values[a] - values[b] || a - b;
    const sorted = values.map((_, i) => i).sort(byValueThenIndex);
    for (const k of [0, 1, 7, 100, 500, 1000]) expect(topK(values.length, k, byValueThenIndex)).toEqual(sorted.slice(0, k));
  });
});
