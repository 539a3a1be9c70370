/**
 * Matching benchmark: `NodeIndex.match` (what the region Durable Object answers from memory)
 * against the brute-force reference `matchNodes`, on one region of 10,000 and 100,000 nodes.
 *
 *   npx tsx bench/matching.bench.ts
 *
 * or `runMatchingBench()` from the bench runner. Two cases per size:
 *   near_me  — renter coordinates and max_distance_km 200: the grid narrows the scan;
 *   anywhere — renter coordinates, no radius: every node is a candidate, proximity only scores;
 *              the index wins by rejecting cheaply and keeping a top-k heap instead of sorting.
 * The target is a 100,000-node near-me match in ≤ 10 ms at p50. Both sides see the same
 * requests in the same run, and the first requests are checked to give identical results.
 */

import { pathToFileURL } from "node:url";
import { type Candidate, type MatchRequest, type NodeType, matchNodes } from "../worker/src/domain/matching";
import { NodeIndex } from "../worker/src/domain/spatial-index";
import { mulberry32 } from "../worker/test/prng";

export interface MatchingBenchResult {
  name: string;
  nodes: number;
  iterations: number;
  p50Ms: number;
  p99Ms: number;
  bruteForceIterations: number;
  bruteForceP50Ms: number;
  bruteForceP99Ms: number;
  /** brute-force p50 / index p50 */
  speedupP50: number;
  /** Average number of nodes passing the hard filters per request. */
  avgCandidates: number;
  buildMs: number;
  targetP50Ms: number | null;
  meetsTarget: boolean | null;
}

const REGION = "eu-central";
// One region spread over ~10° × 10° of central Europe.
const LAT0 = 43,
  LNG0 = 3,
  SPAN = 10;
const NEAR_ME_TARGET_MS = 10;

function gaussian(rnd: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
}

function cities(rnd: () => number, count: number): Array<[number, number]> {
  return Array.from({ length: count }, () => [LAT0 + 1 + rnd() * (SPAN - 2), LNG0 + 1 + rnd() * (SPAN - 2)] as [number, number]);
}

/**
 * Mostly mist nodes (home machines) clustered around cities, fewer edge clusters, a few large
 * datacenters; some nodes busy or offline, a few without a position.
 */
export function buildNodes(count: number, seed = 1): Candidate[] {
  const rnd = mulberry32(seed);
  const hubs = cities(mulberry32(seed + 1000), 25);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const nodes: Candidate[] = [];
  for (let i = 0; i < count; i++) {
    const kind = rnd();
    const nodeType: NodeType = kind < 0.05 ? "datacenter" : kind < 0.3 ? "edge_cluster" : "mist_node";
    let lat: number | null, lng: number | null;
    if (rnd() < 0.02) {
      lat = null;
      lng = null;
    } else if (rnd() < 0.7) {
      const [clat, clng] = hubs[int(0, hubs.length - 1)];
      lat = Math.min(LAT0 + SPAN, Math.max(LAT0, clat + gaussian(rnd) * 0.4));
      lng = Math.min(LNG0 + SPAN, Math.max(LNG0, clng + gaussian(rnd) * 0.6));
    } else {
      lat = LAT0 + rnd() * SPAN;
      lng = LNG0 + rnd() * SPAN;
    }
    const [ram, vram, price] =
      nodeType === "datacenter"
        ? [int(256, 2048), rnd() < 0.6 ? int(80, 640) : 0, int(300, 900)]
        : nodeType === "edge_cluster"
          ? [int(32, 256), rnd() < 0.5 ? int(16, 96) : 0, int(500, 1500)]
          : [int(2, 32), rnd() < 0.4 ? int(4, 24) : 0, int(200, 1200)];
    const busy = rnd(); // share already held by contracts
    const state = rnd();
    nodes.push({
      id: `00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`,
      name: `${nodeType}-${i}`,
      nodeType,
      region: REGION,
      latitude: lat,
      longitude: lng,
      availableRamGb: Math.floor(ram * (1 - busy)),
      availableVramGb: Math.floor(vram * (1 - busy)),
      priceNano: price,
      uptimeScore: Math.round((85 + rnd() * 15) * 100) / 100,
      status: state < 0.92 ? "active" : state < 0.97 ? "maintenance" : "offline",
      baseLatencyMs: int(1, 30),
    });
  }
  return nodes;
}

function buildRequests(count: number, withRadius: boolean, seed: number): MatchRequest[] {
  const rnd = mulberry32(seed);
  const hubs = cities(mulberry32(1 + 1000), 25);
  return Array.from({ length: count }, () => {
    const [clat, clng] = rnd() < 0.7 ? hubs[Math.floor(rnd() * hubs.length)] : [LAT0 + rnd() * SPAN, LNG0 + rnd() * SPAN];
    return {
      ramGb: 4 + Math.floor(rnd() * 29),
      vramGb: rnd() < 0.5 ? 0 : 4 + Math.floor(rnd() * 13),
      durationSec: 3600,
      maxPriceNano: rnd() < 0.3 ? 1000 : null,
      preferLocal: true,
      maxDistanceKm: withRadius ? 200 : null,
      minUptimeScore: rnd() < 0.2 ? 95 : null,
      region: null,
      clientLat: clat + (rnd() - 0.5) * 0.2,
      clientLng: clng + (rnd() - 0.5) * 0.2,
      limit: 10,
    };
  });
}

function percentile(sortedMs: number[], p: number): number {
  return sortedMs[Math.min(sortedMs.length - 1, Math.floor(p * (sortedMs.length - 1)))];
}

function time<T>(requests: MatchRequest[], iterations: number, run: (req: MatchRequest) => T): { p50: number; p99: number } {
  for (let i = 0; i < Math.min(10, iterations); i++) run(requests[i % requests.length]); // JIT warm-up
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const req = requests[i % requests.length];
    const t0 = performance.now();
    run(req);
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99) };
}

function sameResult(a: ReturnType<typeof matchNodes>, b: ReturnType<typeof matchNodes>): boolean {
  return (
    a.totalCandidates === b.totalCandidates &&
    a.matches.length === b.matches.length &&
    a.matches.every((m, i) => m.node.id === b.matches[i].node.id && m.score === b.matches[i].score)
  );
}

const round3 = (ms: number) => Math.round(ms * 1000) / 1000;

export async function runMatchingBench(): Promise<MatchingBenchResult[]> {
  const results: MatchingBenchResult[] = [];
  for (const size of [10_000, 100_000]) {
    const nodes = buildNodes(size);
    const t0 = performance.now();
    const index = new NodeIndex();
    for (const n of nodes) index.upsert(n);
    const buildMs = performance.now() - t0;

    for (const [label, withRadius] of [
      ["near_me_200km", true],
      ["anywhere_no_radius", false],
    ] as const) {
      const requests = buildRequests(64, withRadius, withRadius ? 2 : 3);
      let candidates = 0;
      for (const req of requests) {
        const fast = index.match(req);
        const slow = matchNodes(nodes, req);
        if (!sameResult(fast, slow)) throw new Error(`NodeIndex.match differs from matchNodes (${label}, ${size} nodes)`);
        candidates += slow.totalCandidates;
      }
      // Enough samples for a p99 without letting the 100k brute force eat the time budget.
      const iterations = size === 100_000 ? 300 : 1000;
      const bruteIterations = size === 100_000 ? 30 : 100;
      const fast = time(requests, iterations, (req) => index.match(req));
      const slow = time(requests, bruteIterations, (req) => matchNodes(nodes, req));
      const target = withRadius && size === 100_000 ? NEAR_ME_TARGET_MS : null;
      results.push({
        name: `match.${label}.${size / 1000}k`,
        nodes: size,
        iterations,
        p50Ms: round3(fast.p50),
        p99Ms: round3(fast.p99),
        bruteForceIterations: bruteIterations,
        bruteForceP50Ms: round3(slow.p50),
        bruteForceP99Ms: round3(slow.p99),
        speedupP50: Math.round((slow.p50 / fast.p50) * 10) / 10,
        avgCandidates: Math.round(candidates / requests.length),
        buildMs: round3(buildMs),
        targetP50Ms: target,
        meetsTarget: target === null ? null : fast.p50 <= target,
      });
    }
  }
  return results;
}

function printTable(results: MatchingBenchResult[]): void {
  const rows = results.map((r) => ({
    case: r.name,
    "index p50 ms": r.p50Ms,
    "index p99 ms": r.p99Ms,
    "brute p50 ms": r.bruteForceP50Ms,
    "brute p99 ms": r.bruteForceP99Ms,
    "speed-up (p50)": `${r.speedupP50}×`,
    candidates: r.avgCandidates,
    target: r.targetP50Ms === null ? "" : `≤ ${r.targetP50Ms} ms: ${r.meetsTarget ? "met" : "MISSED"}`,
  }));
  console.table(rows);
  for (const size of new Set(results.map((r) => r.nodes))) {
    const r = results.find((x) => x.nodes === size)!;
    console.log(`index build, ${size.toLocaleString("en")} upserts: ${r.buildMs} ms`);
  }
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  const started = performance.now();
  const results = await runMatchingBench();
  printTable(results);
  console.log(`total ${((performance.now() - started) / 1000) | 0} s`);
  if (results.some((r) => r.meetsTarget === false)) process.exitCode = 1;
}
