import { describe, expect, it } from "vitest";
import { type Candidate, type MatchRequest, compareMatches, filterOffers, matchNodes, matchScore, scoreCandidate } from "./matching";

// One degree of arc on a sphere of R = 6371 km: 6371 × π / 180.
const ONE_DEGREE_KM = 111.19492664455873;

function node(over: Partial<Candidate> & { id: string }): Candidate {
  return {
    name: over.id,
    nodeType: "datacenter",
    region: "eu-west",
    latitude: 0,
    longitude: 0,
    availableRamGb: 64,
    availableVramGb: 16,
    priceNano: 1000,
    uptimeScore: 100,
    status: "active",
    baseLatencyMs: 5,
    ...over,
  };
}

function request(over: Partial<MatchRequest> = {}): MatchRequest {
  return { ramGb: 4, vramGb: 2, durationSec: 3600, preferLocal: true, clientLat: 0, clientLng: 0, limit: 10, ...over };
}

/*
 * The worked example. Renter at 0°N 0°E asks for 4 GB RAM + 2 GB VRAM for an hour, no max price.
 *
 * A: mist node at 1°N 0°E, 400 nano, uptime 98, 16 + 8 GB free, base latency 5 ms
 *   distance    = 1° of arc = 111.19492664455873 km
 *   proximity   = (100 − 11.119492664455873) × 3 = 266.6415220066324
 *   price       = (1 − 400 / 800) × 50 = 25          (800 = highest price among the candidates, B's)
 *   reliability = 98 × 0.5 = 49
 *   capacity    = min(30, 24 / 6 × 10 = 40) = 30
 *   node_type   = 20
 *   score       = 390.6415220066324
 *   cost        = 6 GB × 3600 s × 400 nano = 8,640,000 nano = 8640 micro-USD
 *   latency     = 5 + round(1.112) = 6 ms
 * B: datacenter at 0°N 2°E, 800 nano, uptime 99.5, 8 + 4 GB free, base latency 3 ms
 *   distance    = 2° = 222.38985328911747 km
 *   proximity   = (100 − 22.238985328911747) × 3 = 233.28304401326474
 *   price       = (1 − 800 / 800) × 50 = 0
 *   reliability = 49.75, capacity = 12 / 6 × 10 = 20, node_type = 0
 *   score       = 303.03304401326477
 *   cost        = 6 × 3600 × 800 = 17,280,000 nano = 17280 micro; latency = 3 + round(2.224) = 5 ms
 * C: edge cluster with no coordinates, 200 nano, uptime 90, 6 + 2 GB free, base latency 20 ms
 *   proximity   = 0 (no position), price = (1 − 200 / 800) × 50 = 37.5, reliability = 45,
 *   capacity    = 8 / 6 × 10 = 13.333333333333334, node_type = 0
 *   score       = 95.83333333333333; latency = 20 ms (no distance)
 */
const A = node({
  id: "a",
  nodeType: "mist_node",
  latitude: 1,
  longitude: 0,
  priceNano: 400,
  uptimeScore: 98,
  availableRamGb: 16,
  availableVramGb: 8,
  baseLatencyMs: 5,
});
const B = node({
  id: "b",
  nodeType: "datacenter",
  latitude: 0,
  longitude: 2,
  priceNano: 800,
  uptimeScore: 99.5,
  availableRamGb: 8,
  availableVramGb: 4,
  baseLatencyMs: 3,
});
const C = node({
  id: "c",
  nodeType: "edge_cluster",
  latitude: null,
  longitude: null,
  priceNano: 200,
  uptimeScore: 90,
  availableRamGb: 6,
  availableVramGb: 2,
  baseLatencyMs: 20,
});

describe("matchNodes: the worked example", () => {
  const { matches, totalCandidates } = matchNodes([C, B, A], request());

  it("ranks A, B, C and counts all three", () => {
    expect(totalCandidates).toBe(3);
    expect(matches.map((m) => m.node.id)).toEqual(["a", "b", "c"]);
  });

  it("scores A exactly", () => {
    const a = matches[0];
    expect(a.distanceKm).toBeCloseTo(ONE_DEGREE_KM, 9);
    expect(a.breakdown.proximity).toBeCloseTo(266.6415220066324, 9);
    expect(a.breakdown.price).toBe(25);
    expect(a.breakdown.reliability).toBe(49);
    expect(a.breakdown.capacity).toBe(30);
    expect(a.breakdown.node_type).toBe(20);
    expect(a.score).toBeCloseTo(390.6415220066324, 9);
    expect(a.estimatedCostMicro).toBe(8640);
    expect(a.estimatedLatencyMs).toBe(6);
  });

  it("scores B exactly", () => {
    const b = matches[1];
    expect(b.distanceKm).toBeCloseTo(2 * ONE_DEGREE_KM, 9);
    expect(b.breakdown).toEqual({
      proximity: expect.closeTo(233.28304401326474, 9),
      price: 0,
      reliability: 49.75,
      capacity: 20,
      node_type: 0,
    });
    expect(b.score).toBeCloseTo(303.03304401326477, 9);
    expect(b.estimatedCostMicro).toBe(17280);
    expect(b.estimatedLatencyMs).toBe(5);
  });

  it("scores C, which has no coordinates, with zero proximity", () => {
    const c = matches[2];
    expect(c.distanceKm).toBeNull();
    expect(c.breakdown).toEqual({
      proximity: 0,
      price: 37.5,
      reliability: 45,
      capacity: expect.closeTo(13.333333333333334, 12),
      node_type: 0,
    });
    expect(c.score).toBeCloseTo(95.83333333333333, 9);
    expect(c.estimatedLatencyMs).toBe(20);
  });

  it("the score is the sum of its breakdown", () => {
    for (const m of matches) {
      const b = m.breakdown;
      expect(m.score).toBe(b.proximity + b.price + b.reliability + b.capacity + b.node_type);
    }
  });
});

describe("matchNodes: prefer_local false", () => {
  it("does not triple proximity", () => {
    // A: 88.88050733554412 + 25 + 49 + 30 + 20 = 212.8805073355441
    // B: 77.76101467108825 + 0 + 49.75 + 20 + 0 = 147.51101467108825
    const { matches } = matchNodes([A, B, C], request({ preferLocal: false }));
    expect(matches[0].breakdown.proximity).toBeCloseTo(88.88050733554412, 9);
    expect(matches[0].score).toBeCloseTo(212.8805073355441, 9);
    expect(matches[1].breakdown.proximity).toBeCloseTo(77.76101467108825, 9);
    expect(matches[1].score).toBeCloseTo(147.51101467108825, 9);
  });

  it("floors proximity at 0 beyond 1000 km", () => {
    const far = node({ id: "far", latitude: 0, longitude: 10 }); // 1111.9 km
    const { matches } = matchNodes([far], request({ preferLocal: false }));
    expect(matches[0].breakdown.proximity).toBe(0);
    expect(matches[0].distanceKm).toBeCloseTo(10 * ONE_DEGREE_KM, 8);
    expect(matches[0].estimatedLatencyMs).toBe(5 + 11);
  });
});

describe("matchNodes: missing coordinates", () => {
  it("gives no proximity and no distance when the renter has none", () => {
    const { matches } = matchNodes([A, B], request({ clientLat: null, clientLng: null, maxDistanceKm: 1 }));
    // No renter position: max_distance_km cannot apply, both pass.
    expect(matches).toHaveLength(2);
    for (const m of matches) {
      expect(m.distanceKm).toBeNull();
      expect(m.breakdown.proximity).toBe(0);
      expect(m.estimatedLatencyMs).toBe(m.node.baseLatencyMs);
    }
    // Only one coordinate is as good as none.
    expect(matchNodes([A], request({ clientLng: null })).matches[0].distanceKm).toBeNull();
  });

  it("does not exclude a node without coordinates by distance", () => {
    const { matches } = matchNodes([A, B, C], request({ maxDistanceKm: 150 }));
    expect(matches.map((m) => m.node.id)).toEqual(["a", "c"]);
  });
});

describe("matchNodes: max price", () => {
  it("uses the request's max price for the price score when given", () => {
    // Max 1000: A = (1 − 0.4) × 50 = 30, B = (1 − 0.8) × 50 = 10, C = (1 − 0.2) × 50 = 40.
    const { matches } = matchNodes([A, B, C], request({ maxPriceNano: 1000 }));
    const price = Object.fromEntries(matches.map((m) => [m.node.id, m.breakdown.price]));
    expect(price.a).toBeCloseTo(30, 12);
    expect(price.b).toBeCloseTo(10, 12);
    expect(price.c).toBeCloseTo(40, 12);
  });

  it("defaults to the highest price among the nodes that passed the hard filters", () => {
    // B (800, 222 km away) is filtered out by distance, so the highest is A's 400: A scores 0,
    // C (1 − 200/400) × 50 = 25.
    const { matches } = matchNodes([A, B, C], request({ maxDistanceKm: 150 }));
    expect(matches.map((m) => m.node.id)).toEqual(["a", "c"]);
    expect(matches[0].breakdown.price).toBe(0);
    expect(matches[1].breakdown.price).toBe(25);
  });

  it("gives everyone 50 when every candidate is free (max price 0)", () => {
    const free = [node({ id: "x", priceNano: 0 }), node({ id: "y", priceNano: 0 })];
    for (const m of matchNodes(free, request()).matches) expect(m.breakdown.price).toBe(50);
    for (const m of matchNodes(free, request({ maxPriceNano: 0 })).matches) expect(m.breakdown.price).toBe(50);
    expect(matchNodes(free, request()).matches[0].estimatedCostMicro).toBe(0);
  });
});

describe("matchNodes: hard filters", () => {
  const base = node({
    id: "n",
    latitude: 1,
    longitude: 0,
    availableRamGb: 4,
    availableVramGb: 2,
    priceNano: 500,
    uptimeScore: 90,
    region: "eu-west",
  });
  const passes = (over: Partial<Candidate>, req: Partial<MatchRequest> = {}) =>
    matchNodes([{ ...base, ...over }], request(req)).totalCandidates === 1;

  it("passes a node that exactly covers the request", () => {
    expect(passes({})).toBe(true);
  });
  it("requires enough RAM and enough VRAM, each on its own", () => {
    expect(passes({ availableRamGb: 3 })).toBe(false);
    expect(passes({ availableVramGb: 1 })).toBe(false);
    expect(passes({ availableRamGb: 100, availableVramGb: 1 })).toBe(false); // RAM cannot stand in for VRAM
  });
  it("requires price ≤ max price, equality included", () => {
    expect(passes({}, { maxPriceNano: 500 })).toBe(true);
    expect(passes({}, { maxPriceNano: 499 })).toBe(false);
  });
  it("requires status active", () => {
    expect(passes({ status: "maintenance" })).toBe(false);
    expect(passes({ status: "offline" })).toBe(false);
  });
  it("requires uptime ≥ min_uptime_score", () => {
    expect(passes({}, { minUptimeScore: 90 })).toBe(true);
    expect(passes({}, { minUptimeScore: 90.01 })).toBe(false);
  });
  it("requires distance ≤ max_distance_km, equality included", () => {
    expect(passes({}, { maxDistanceKm: ONE_DEGREE_KM + 1e-9 })).toBe(true);
    expect(passes({}, { maxDistanceKm: 111 })).toBe(false);
    expect(passes({ latitude: null }, { maxDistanceKm: 1 })).toBe(true);
  });
  it("requires the region when one is asked", () => {
    expect(passes({}, { region: "eu-west" })).toBe(true);
    expect(passes({}, { region: "us-east" })).toBe(false);
    expect(passes({}, { region: null })).toBe(true);
  });
  it("counts everything that passes but returns only `limit`", () => {
    const many = Array.from({ length: 25 }, (_, i) => node({ id: `n${String(i).padStart(2, "0")}`, priceNano: 100 + i }));
    const { matches, totalCandidates } = matchNodes(many, request({ limit: 5 }));
    expect(totalCandidates).toBe(25);
    expect(matches.map((m) => m.node.id)).toEqual(["n00", "n01", "n02", "n03", "n04"]);
    expect(matchNodes(many, request({ limit: 0 })).matches).toEqual([]);
    expect(matchNodes(many, request({ limit: 100 })).matches).toHaveLength(25);
  });
});

describe("matchNodes: ties", () => {
  it("breaks an equal score by lower price", () => {
    // With an explicit max price of 1000, p: price 500 → 25; q: price 600 → 20 but uptime 10 points
    // higher → +5. Both: proximity 300, capacity 30, reliability 45 (p) / 50 (q): 400 each.
    const p = node({ id: "p", priceNano: 500, uptimeScore: 90 });
    const q = node({ id: "q", priceNano: 600, uptimeScore: 100 });
    const { matches } = matchNodes([q, p], request({ maxPriceNano: 1000 }));
    expect(matches[0].score).toBe(matches[1].score);
    expect(matches.map((m) => m.node.id)).toEqual(["p", "q"]);
  });

  it("then by lower distance, a missing distance after any distance", () => {
    const m = (id: string, distanceKm: number | null) => ({ score: 100, distanceKm, node: node({ id, priceNano: 1 }) });
    const sorted = [m("z", null), m("y", 50), m("x", 10)].sort(compareMatches);
    expect(sorted.map((s) => s.node.id)).toEqual(["x", "y", "z"]);
  });

  it("then by node id, as plain strings", () => {
    // Same score, price and distance: same node twice under different ids.
    const ids = ["b", "B", "a", "a0"];
    const { matches } = matchNodes(
      ids.map((id) => node({ id })),
      request(),
    );
    expect(matches.map((x) => x.node.id)).toEqual(["B", "a", "a0", "b"]);
  });

  it("ranks a node without coordinates by its score alone", () => {
    // With prefer_local off and the renter at a node's exact spot, proximity is 100; a twin without
    // coordinates scores 100 less and sorts after it.
    const { matches } = matchNodes([node({ id: "u", latitude: null }), node({ id: "v" })], request({ preferLocal: false }));
    expect(matches.map((x) => x.node.id)).toEqual(["v", "u"]);
    expect(matches[0].score - matches[1].score).toBe(100);
  });
});

describe("scoreCandidate", () => {
  it("and matchScore give the very same float", () => {
    for (const c of [A, B, C]) {
      for (const req of [request(), request({ preferLocal: false }), request({ ramGb: 3, vramGb: 0 })]) {
        for (const [max, d] of [
          [800, 111.19492664455873],
          [1000, null],
          [0, 0],
          [333, 1234.5],
        ] as const) {
          expect(matchScore(c, req, max, d)).toBe(scoreCandidate(c, req, max, d).score);
        }
      }
    }
  });

  it("caps capacity at 30 and scales it below", () => {
    const req = request({ ramGb: 10, vramGb: 0 });
    expect(scoreCandidate(node({ id: "big", availableRamGb: 1000, availableVramGb: 0 }), req, 1000, null).breakdown.capacity).toBe(30);
    expect(scoreCandidate(node({ id: "fit", availableRamGb: 25, availableVramGb: 0 }), req, 1000, null).breakdown.capacity).toBe(25);
  });

  it("treats a zero-sized request (rejected by the API) as full capacity", () => {
    expect(scoreCandidate(node({ id: "n" }), request({ ramGb: 0, vramGb: 0 }), 1000, null).breakdown.capacity).toBe(30);
  });

  it("gives the mist bonus only to mist nodes", () => {
    const req = request();
    expect(scoreCandidate(node({ id: "m", nodeType: "mist_node" }), req, 1000, 0).breakdown.node_type).toBe(20);
    expect(scoreCandidate(node({ id: "e", nodeType: "edge_cluster" }), req, 1000, 0).breakdown.node_type).toBe(0);
  });

  it("adds round(distance / 100) ms to the base latency", () => {
    const at = (km: number) => matchNodes([node({ id: "n", latitude: 0, longitude: km / ONE_DEGREE_KM })], request()).matches[0];
    expect(at(149).distanceKm).toBeCloseTo(149, 9);
    expect(at(149).estimatedLatencyMs).toBe(5 + 1);
    expect(at(151).estimatedLatencyMs).toBe(5 + 2);
    expect(at(0).estimatedLatencyMs).toBe(5);
  });

  it("computes the cost in integer micro-USD, rounded up", () => {
    // 1000 GB for 86,400 s at 0.000000123 USD/GB-s = 10,627,200,000 nano = 10,627,200 micro
    // ($10.6272), past 2^32 nano, computed in integers.
    const n = node({ id: "n", availableRamGb: 1000, priceNano: 123 });
    expect(matchNodes([n], request({ ramGb: 1000, vramGb: 0, durationSec: 86_400 })).matches[0].estimatedCostMicro).toBe(10_627_200);
    // 1 GB × 1 s × 1 nano = 0.001 micro, rounded up to 1.
    expect(
      matchNodes([node({ id: "m", priceNano: 1 })], request({ ramGb: 1, vramGb: 0, durationSec: 1 })).matches[0].estimatedCostMicro,
    ).toBe(1);
  });
});

describe("filterOffers", () => {
  const nodes = [
    node({ id: "near-dear", latitude: 0.1, longitude: 0, priceNano: 900 }),
    node({ id: "near-cheap", latitude: 0.1, longitude: 0, priceNano: 300 }),
    node({ id: "far", latitude: 5, longitude: 0, priceNano: 100, nodeType: "mist_node", region: "eu-north" }),
    node({ id: "nowhere", latitude: null, longitude: null, priceNano: 200 }),
    node({ id: "full", availableRamGb: 0, availableVramGb: 0 }),
    node({ id: "down", status: "offline" }),
    node({ id: "gpu-less", availableVramGb: 0, priceNano: 400 }),
  ];

  it("lists only active nodes with free capacity, nearest first, then cheaper, then id", () => {
    const offers = filterOffers(nodes, { clientLat: 0, clientLng: 0 });
    expect(offers.map((o) => o.node.id)).toEqual(["gpu-less", "near-cheap", "near-dear", "far", "nowhere"]);
    expect(offers[0].distanceKm).toBe(0);
    expect(offers[1].distanceKm).toBeCloseTo(0.1 * ONE_DEGREE_KM, 9);
    expect(offers[3].estimatedLatencyMs).toBe(5 + 6); // 556 km
    expect(offers[4].distanceKm).toBeNull();
  });

  it("orders by price then id without client coordinates", () => {
    const offers = filterOffers(nodes, {});
    expect(offers.map((o) => o.node.id)).toEqual(["far", "nowhere", "near-cheap", "gpu-less", "near-dear"]);
    expect(offers.every((o) => o.distanceKm === null)).toBe(true);
  });

  it("applies each filter", () => {
    const ids = (f: Parameters<typeof filterOffers>[1]) =>
      filterOffers(nodes, f)
        .map((o) => o.node.id)
        .sort();
    expect(ids({ nodeType: "mist_node" })).toEqual(["far"]);
    expect(ids({ region: "eu-north" })).toEqual(["far"]);
    expect(ids({ minVramGb: 1 })).not.toContain("gpu-less");
    expect(ids({ minRamGb: 65 })).toEqual([]);
    expect(ids({ maxPriceNano: 300 })).toEqual(["far", "near-cheap", "nowhere"]);
    expect(ids({ minUptimeScore: 100.5 })).toEqual([]);
    expect(ids({ clientLat: 0, clientLng: 0, maxDistanceKm: 100 })).toEqual(["gpu-less", "near-cheap", "near-dear", "nowhere"]);
    expect(ids({ maxDistanceKm: 1 })).toHaveLength(5); // no renter position: no distance filter
  });
});
