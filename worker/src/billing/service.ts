import type { Env } from "../env";
import { clientBalanceOfUser } from "../db/clients";
import { burnNanoPerSecOfUser } from "../db/contracts";
import { microToUsd } from "../domain/money";

/** A renter's balance view: what they have, what running contracts hold, and how fast it burns. */
export async function balanceOf(env: Env, userId: string) {
  const c = await clientBalanceOfUser(env.DB, userId);
  const balance = c?.balanceMicro ?? 0;
  const held = c?.heldMicro ?? 0;
  // Burn rate: what the caller's active contracts cost per hour at their prices (exact to the micro).
  const nanoPerSec = await burnNanoPerSecOfUser(env.DB, userId);
  const burnMicroPerHour = Math.ceil((nanoPerSec * 3600) / 1000);
  return {
    balance_usd: microToUsd(balance),
    held_usd: microToUsd(held),
    available_usd: microToUsd(balance - held),
    burn_rate_usd_per_hour: microToUsd(burnMicroPerHour),
    // How long the whole balance lasts at this burn rate (null when nothing is running).
    runway_sec: nanoPerSec > 0 ? Math.floor((balance * 1000) / nanoPerSec) : null,
  };
}
