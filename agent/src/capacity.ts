/**
 * What this machine offers, in whole GB as the API counts memory. Always rounded down: offering a
 * fraction of a GB the owner still needs would let a renter push the owner's own apps into swap.
 */

export const MIN_RESERVE_GB = 4;
export const RESERVE_SHARE = 0.2;

/** The owner's reserve when the config sets none: the larger of 4 GB and 20 % of total RAM. */
export function defaultReserveGb(totalRamGb: number): number {
  return Math.max(MIN_RESERVE_GB, RESERVE_SHARE * totalRamGb);
}

/** Memory offered to renters: available minus the reserve, never negative; nothing outside the idle schedule. */
export function offeredGb(availableGb: number, reserveGb: number, idle = true): number {
  if (!idle) return 0;
  return Math.max(0, Math.floor(availableGb - reserveGb + 1e-9));
}

export interface Lease {
  id: string;
  ram_gb: number;
  vram_gb: number;
}

/**
 * Splits contracts into those this machine can hold now and those it cannot, in the order given
 * (the server's order, so the older lease keeps its place). `offered` is what the machine can
 * give beyond the reserve; contracts already held count against it too, since holding a lease
 * does not make the machine's free memory shrink until the renter uses it.
 */
export function fitContracts<T extends Lease>(contracts: T[], offered: { ram_gb: number; vram_gb: number }, alreadyHeld: Lease[] = []): { hold: T[]; reject: T[] } {
  let ram = offered.ram_gb - alreadyHeld.reduce((s, c) => s + c.ram_gb, 0);
  let vram = offered.vram_gb - alreadyHeld.reduce((s, c) => s + c.vram_gb, 0);
  const hold: T[] = [];
  const reject: T[] = [];
  for (const c of contracts) {
    if (c.ram_gb <= ram && c.vram_gb <= vram) {
      hold.push(c);
      ram -= c.ram_gb;
      vram -= c.vram_gb;
    } else {
      reject.push(c);
    }
  }
  return { hold, reject };
}
