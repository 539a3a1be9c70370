/**
 * The money side of an ended contract: charge the final cost from the renter's hold, give back the
 * rest, credit the provider the cost minus the platform fee and the platform the fee, and record
 * `settlement_hash` (the hash of the charge entry). Every entry's idempotency key is derived from
 * the contract id, so running this twice — a redelivered queue message, a failover that settles
 * early and the queue after it — moves money once.
 */
import { config, type Env } from "../env";
import type { ContractRow } from "../db/schema";
import { findContract, markChargedIfUnsettledStatement, unsettledGuard } from "../db/contracts";
import { clientBalance } from "../db/clients";
import { splitFee } from "../domain/money";
import { ApiError } from "../lib/errors";
import { AlreadyApplied, appendLedger, chargeIfStatement, type EntryDraft } from "../ledger/service";

export type SettleOutcome = "settled" | "already_settled" | "not_ended" | "missing";

export async function settleContractMoney(env: Env, contractId: string): Promise<SettleOutcome> {
  // Each retry means a hold landed on the renter's account between the read and the write.
  for (let attempt = 0; attempt < 25; attempt++) {
    const k: ContractRow | undefined = await findContract(env.DB, contractId);
    if (!k) return "missing";
    if (k.endedAt === null) return "not_ended";
    if (k.chargedMicro !== null) return "already_settled";
    const client = await clientBalance(env.DB, k.clientId);
    if (!client) return "missing";

    const cost = k.totalCostMicro;
    const hold = k.heldMicro;
    // The hold covers the estimate; anything beyond it (egress, grace time) comes from the free
    // balance as far as it goes. A balance never goes negative: the rest stays outstanding.
    const free = Math.max(0, client.balanceMicro - client.heldMicro);
    const charged = Math.min(cost, hold + free);
    const { feeMicro, providerMicro } = splitFee(charged, config(env).platformFeePercent);
    const released = Math.max(0, hold - charged);
    const userId = k.clientUserId;
    const drafts: EntryDraft[] = [
      {
        kind: "charge",
        userId,
        contractId,
        amountMicro: -charged,
        idempotencyKey: `charge:${contractId}`,
        memo: cost > charged ? `outstanding ${cost - charged} micro-USD` : null,
      },
      {
        kind: "provider_earning",
        userId: k.providerId,
        contractId,
        amountMicro: providerMicro,
        idempotencyKey: `earning:${contractId}`,
      },
      { kind: "platform_fee", userId: null, contractId, amountMicro: feeMicro, idempotencyKey: `fee:${contractId}` },
    ];
    if (released > 0)
      drafts.push({ kind: "release", userId, contractId, amountMicro: released, idempotencyKey: `release:${contractId}:final` });
    // Guarded on the contract as read (ended, not yet charged, this hold): a settlement racing
    // another one (a cancel settling at once while the queue delivers) writes nothing.
    const guard = unsettledGuard(contractId, hold);
    try {
      const { applied } = await appendLedger(
        env.DB,
        drafts,
        (posted) => [
          chargeIfStatement(env.DB, client.id, hold, charged, guard),
          markChargedIfUnsettledStatement(env.DB, contractId, charged, posted[0].hash, hold),
        ],
        guard,
      );
      if (!applied) continue; // settled (or changed) meanwhile: read again
      return "settled";
    } catch (e) {
      if (e instanceof AlreadyApplied) return "already_settled";
      // The free balance moved between the read and the write (another hold): read again.
      if (e instanceof ApiError && e.code === "insufficient_funds") continue;
      throw e;
    }
  }
  throw new Error(`could not settle contract ${contractId}: the balance kept changing`);
}

export type { ContractRow };
