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
export function fitContracts<T extends Lease>(
  contracts: T[],
  offered: { ram_gb: number; vram_gb: number },
  alreadyHeld: Lease[] = [],
): { hold: T[]; reject: T[] } {
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

/**
 * RAM (or VRAM) this machine can still promise to new leases, in whole GB: what is free beyond
 * the reserve, minus what open leases hold. `usedGb` (bytes renters have already written) is added
 * back because it is already missing from the machine's free memory and is also part of the
 * leases' quotas: counting it twice would offer less than the machine has.
 */
export function leaseRoomGb(o: { availableGb: number; reserveGb: number; heldGb: number; usedGb?: number; idle?: boolean }): number {
  if (o.idle === false) return 0;
  return Math.max(0, Math.floor(o.availableGb + (o.usedGb ?? 0) - o.reserveGb - o.heldGb + 1e-9));
}
