/**
 * The region's nodes in memory, bucketed on a fixed lat/lng grid, so a "near me" match over
 * 100,000 nodes reads only the cells the search circle touches instead of every node.
 *
 * The region Durable Object keeps one `NodeIndex`, `upsert`s a node on registration, heartbeat or
 * update and `remove`s it when it is deleted; both are O(1). `match` and `browse` return exactly
 * what the reference scans (`matchNodes`, `filterOffers` in matching.ts) return over the same
 * nodes — the grid only narrows which nodes are looked at, the decisions are the same functions.
 *
 * Why the grid never loses a node it should return:
 * - The circle's cells come from `gridCover` (geo.ts): the exact bounding box of the spherical
 *   cap, slightly widened, wrapping across the antimeridian and taking every longitude once the
 *   cap contains a pole.
 * - A node without coordinates cannot be excluded by distance (API.md), so it is kept outside
 *   the grid and always considered.
 * - A renter without coordinates, or without max_distance_km, has no distance filter: every node
 *   is considered, in one tight loop with cheap rejects first and a bounded top-k heap.
 */

import { type GridShape, coverHasCell, gridCellKey, gridCover, gridShape } from "./geo";
import {
  type Candidate,
  type Match,
  type MatchRequest,
  type MatchResult,
  type Offer,
  type OfferFilter,
  clientPoint,
  compareDistance,
  compareIds,
  compareOffers,
  distanceToNode,
  matchLimit,
  matchScore,
  passesHardFilters,
  passesOfferFilter,
  toMatch,
  toOffer,
} from "./matching";

/**
 * Half a degree is ~55 km north–south: a 200 km search touches ~100 cells, and a region spread
 * over 10°×10° has 400 of them, so a near-me match reads about a quarter of the region.
 */
export const DEFAULT_CELL_DEG = 0.5;

const UNPLACED = -1;

interface Slot {
  /** Grid cell key, or UNPLACED for a node without coordinates. */
  cell: number;
  /** Position in its bucket. */
  inBucket: number;
  /** Position in the dense list of all nodes. */
  inAll: number;
}

export interface Page {
  limit: number;
  offset: number;
}

export class NodeIndex {
  private readonly shape: GridShape;
  private readonly slots = new Map<string, Slot>();
  private readonly cells = new Map<number, Candidate[]>();
  private readonly unplaced: Candidate[] = [];
  // A dense array beside the Map: a plain indexed loop is what keeps the no-radius match fast.
  private readonly all: Candidate[] = [];

  constructor(options: { cellDeg?: number } = {}) {
    this.shape = gridShape(options.cellDeg ?? DEFAULT_CELL_DEG);
  }

  get size(): number {
    return this.all.length;
  }

  has(id: string): boolean {
    return this.slots.has(id);
  }

  get(id: string): Candidate | undefined {
    const slot = this.slots.get(id);
    return slot === undefined ? undefined : this.all[slot.inAll];
  }

  /** Every node, in no particular order. */
  values(): IterableIterator<Candidate> {
    return this.all.values();
  }

  /**
   * Adds or replaces a node. The index keeps its own shallow copy, so a caller mutating its object
   * afterwards (moving a mist node, say) cannot leave it in the wrong cell: upsert again instead.
   */
  upsert(node: Candidate): void {
    const copy: Candidate = { ...node };
    const cell = hasPosition(copy) ? gridCellKey(this.shape, copy.latitude, copy.longitude) : UNPLACED;
    const slot = this.slots.get(copy.id);
    if (slot === undefined) {
      const bucket = this.bucketFor(cell, true);
      this.slots.set(copy.id, { cell, inBucket: bucket.length, inAll: this.all.length });
      bucket.push(copy);
      this.all.push(copy);
      return;
    }
    this.all[slot.inAll] = copy;
    if (slot.cell === cell) {
      this.bucketFor(cell, false)[slot.inBucket] = copy;
      return;
    }
    this.takeFromBucket(slot);
    const bucket = this.bucketFor(cell, true);
    slot.cell = cell;
    slot.inBucket = bucket.length;
    bucket.push(copy);
  }

  /** Removes a node; false when it was not there. */
  remove(id: string): boolean {
    const slot = this.slots.get(id);
    if (slot === undefined) return false;
    this.takeFromBucket(slot);
    const last = this.all.pop()!;
    if (last.id !== id) {
      this.all[slot.inAll] = last;
      this.slots.get(last.id)!.inAll = slot.inAll;
    }
    this.slots.delete(id);
    return true;
  }

  /**
   * Nodes with coordinates in the grid cells overlapping the circle: a superset of those within
   * `radiusKm` (callers measure the exact distance). Nodes without coordinates are not here; see
   * `unplacedNodes`.
   */
  *near(lat: number, lng: number, radiusKm: number): IterableIterator<Candidate> {
    for (const bucket of this.bucketsNear(lat, lng, radiusKm)) yield* bucket;
  }

  /** Nodes without coordinates: no distance filter can exclude them. */
  unplacedNodes(): IterableIterator<Candidate> {
    return this.unplaced.values();
  }

  /** Same result as `matchNodes(index.values(), req)`. */
  match(req: MatchRequest): MatchResult {
    const client = clientPoint(req);
    const passing: Candidate[] = [];
    const distances: Array<number | null> = [];
    let highestPrice = 0;

    // Status, RAM and VRAM reject most nodes and cost nothing; the haversine only runs after them,
    // and `passesHardFilters` still makes the decision so it stays the reference rule.
    const consider = (bucket: Candidate[]): void => {
      for (let i = 0; i < bucket.length; i++) {
        const c = bucket[i];
        if (c.status !== "active" || c.availableRamGb < req.ramGb || c.availableVramGb < req.vramGb) continue;
        const d = distanceToNode(c, client);
        if (!passesHardFilters(c, req, d)) continue;
        passing.push(c);
        distances.push(d);
        if (c.priceNano > highestPrice) highestPrice = c.priceNano;
      }
    };

    if (client !== null && req.maxDistanceKm != null) {
      for (const bucket of this.bucketsNear(client.lat, client.lng, req.maxDistanceKm)) consider(bucket);
      consider(this.unplaced);
    } else {
      consider(this.all);
    }

    const maxPrice = req.maxPriceNano ?? highestPrice;
    const scores = new Float64Array(passing.length);
    for (let i = 0; i < passing.length; i++) scores[i] = matchScore(passing[i], req, maxPrice, distances[i]);

    // Same order as compareMatches, on indexes, so the heap allocates nothing per node.
    const ranksBefore = (a: number, b: number): number => {
      if (scores[a] !== scores[b]) return scores[b] - scores[a];
      const pa = passing[a].priceNano,
        pb = passing[b].priceNano;
      if (pa !== pb) return pa - pb;
      const byDistance = compareDistance(distances[a], distances[b]);
      if (byDistance !== 0) return byDistance;
      return compareIds(passing[a].id, passing[b].id);
    };
    const best = topK(passing.length, matchLimit(req.limit), ranksBefore);
    const matches: Match[] = best.map((i) => toMatch(passing[i], req, maxPrice, distances[i]));
    return { matches, totalCandidates: passing.length };
  }

  /**
   * Same offers as `filterOffers(index.values(), filter)`; with a page, only that slice (selected
   * with a bounded heap, not a full sort) and the total count.
   */
  browse(filter: OfferFilter, page?: Page): { offers: Offer[]; totalCount: number } {
    const client = clientPoint(filter);
    const offers: Offer[] = [];
    const consider = (bucket: Candidate[]): void => {
      for (let i = 0; i < bucket.length; i++) {
        const c = bucket[i];
        const d = distanceToNode(c, client);
        if (passesOfferFilter(c, filter, d)) offers.push(toOffer(c, d));
      }
    };
    if (client !== null && filter.maxDistanceKm != null) {
      for (const bucket of this.bucketsNear(client.lat, client.lng, filter.maxDistanceKm)) consider(bucket);
      consider(this.unplaced);
    } else {
      consider(this.all);
    }
    const byDistance = client !== null;
    const order = (a: Offer, b: Offer): number => compareOffers(a, b, byDistance);
    if (page === undefined) return { offers: offers.sort(order), totalCount: offers.length };
    const offset = Math.max(0, Math.floor(page.offset));
    const wanted = topK(offers.length, offset + matchLimit(page.limit), (a, b) => order(offers[a], offers[b]));
    return { offers: wanted.slice(offset).map((i) => offers[i]), totalCount: offers.length };
  }

  private bucketsNear(lat: number, lng: number, radiusKm: number): Candidate[][] {
    const cover = gridCover(this.shape, lat, lng, radiusKm);
    const buckets: Candidate[][] = [];
    // A continent-wide radius names more cells than are occupied: walk the occupied ones instead.
    if (cover.cellCount > this.cells.size) {
      for (const [key, bucket] of this.cells) if (coverHasCell(this.shape, cover, key)) buckets.push(bucket);
      return buckets;
    }
    for (let row = cover.row0; row <= cover.row1; row++) {
      const base = row * this.shape.cols;
      for (const [from, to] of cover.colSpans) {
        for (let col = from; col <= to; col++) {
          const bucket = this.cells.get(base + col);
          if (bucket !== undefined) buckets.push(bucket);
        }
      }
    }
    return buckets;
  }

  private bucketFor(cell: number, create: boolean): Candidate[] {
    if (cell === UNPLACED) return this.unplaced;
    let bucket = this.cells.get(cell);
    if (bucket === undefined) {
      if (!create) throw new Error(`node index: cell ${cell} missing`);
      bucket = [];
      this.cells.set(cell, bucket);
    }
    return bucket;
  }

  // Swap-remove keeps buckets dense; the node moved into the hole gets its slot fixed.
  private takeFromBucket(slot: Slot): void {
    const bucket = this.bucketFor(slot.cell, false);
    const last = bucket.pop()!;
    if (slot.inBucket < bucket.length) {
      bucket[slot.inBucket] = last;
      this.slots.get(last.id)!.inBucket = slot.inBucket;
    }
    if (bucket.length === 0 && slot.cell !== UNPLACED) this.cells.delete(slot.cell);
  }
}

function hasPosition(c: Candidate): c is Candidate & { latitude: number; longitude: number } {
  return c.latitude !== null && c.longitude !== null;
}

/**
 * Indexes 0..n-1 of the best `k` by `ranksBefore` (negative when a ranks before b), best first.
 * A heap whose root is the worst kept item: O(n log k) instead of sorting all n.
 */
export function topK(n: number, k: number, ranksBefore: (a: number, b: number) => number): number[] {
  if (k <= 0 || n === 0) return [];
  const heap: number[] = [];
  const worse = (a: number, b: number): boolean => ranksBefore(heap[a], heap[b]) > 0;
  const siftUp = (i: number): void => {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!worse(i, parent)) return;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  };
  const siftDown = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1,
        r = l + 1;
      let worst = i;
      if (l < heap.length && worse(l, worst)) worst = l;
      if (r < heap.length && worse(r, worst)) worst = r;
      if (worst === i) return;
      [heap[i], heap[worst]] = [heap[worst], heap[i]];
      i = worst;
    }
  };
  for (let i = 0; i < n; i++) {
    if (heap.length < k) {
      heap.push(i);
      siftUp(heap.length - 1);
    } else if (ranksBefore(i, heap[0]) < 0) {
      heap[0] = i;
      siftDown(0);
    }
  }
  return heap.sort(ranksBefore);
}
