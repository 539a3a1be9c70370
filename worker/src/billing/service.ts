import type { Env } from "../env";
import { microToUsd } from "../domain/money";

/** A renter's balance view: what they have, what running contracts hold, and how fast it burns. */
export async function balanceOf(env: Env, userId: string) {
  const c = await env.DB.prepare(`SELECT id, balance_micro, held_micro FROM clients WHERE user_id = ?`)
    .bind(userId)
    .first<{ id: string; balance_micro: number; held_micro: number }>();
  const balance = c?.balance_micro ?? 0;
  const held = c?.held_micro ?? 0;
  // Burn rate: what the caller's active contracts cost per hour at their prices (exact to the micro).
  const burn = await env.DB.prepare(
    `SELECT COALESCE(SUM((ram_gb + vram_gb) * price_nano), 0) AS nano_per_sec FROM contracts WHERE client_user_id = ? AND status = 'active' AND ended_at IS NULL`,
  )
    .bind(userId)
    .first<{ nano_per_sec: number }>();
  const nanoPerSec = burn?.nano_per_sec ?? 0;
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
