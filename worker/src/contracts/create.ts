/**
 * Creating a contract: the region DO reserves the capacity, then one D1 batch writes the hold, its
 * ledger entry and the contract row. Failover places a contract's remainder through here too.
 */
import { createDb, toD1 } from "../db/client";
import { creationFacts } from "../db/creation";
import { contracts, type ContractRow } from "../db/schema";
import { costMicro } from "../domain/money";
import { durationBounds } from "../domain/offer";
import type { AuthUser } from "../lib/auth";
import { ApiError, invalid, notFound } from "../lib/errors";
import { holdStatement, postLedger } from "../ledger/service";
import { announceCreated, type Ports } from "../region/client";
import { contractView } from "./views";

export interface CreateInput {
  nodeId: string;
  ramGb: number;
  vramGb: number;
  durationSec: number;
  autoRenew: boolean;
  failedOverFrom?: string | null;
}

export async function createContract(ports: Ports, user: Pick<AuthUser, "id">, input: CreateInput): Promise<ContractRow> {
  const env = ports.env;
  const db = createDb(env.DB);
  if (input.ramGb + input.vramGb <= 0)
    throw new ApiError("validation_failed", "ram_gb + vram_gb must be > 0", [{ field: "ram_gb", message: "ram_gb + vram_gb must be > 0" }]);
  const { node, offer, client } = await creationFacts(env.DB, input.nodeId, user.id);
  if (!node) throw notFound("node");
  const { min: minDur, max: maxDur } = durationBounds(offer);
  if (input.durationSec < minDur || input.durationSec > maxDur)
    throw invalid("duration_sec", `must be between ${minDur} and ${maxDur} for this node`);
  if (node.status !== "active") throw new ApiError("insufficient_capacity", `this node is ${node.status} and takes no new contracts`);
  if (input.ramGb > node.totalRamGb || input.vramGb > node.totalVramGb)
    throw new ApiError("insufficient_capacity", "this node does not have that much memory");
  if (!client) throw notFound("client profile");

  const estimate = costMicro(input.ramGb + input.vramGb, input.durationSec, node.priceNano);
  // Fast refusal before touching the lock; the database trigger remains the authority under races.
  if (client.balanceMicro - client.heldMicro < estimate) {
    throw new ApiError(
      "insufficient_funds",
      `this contract needs $${(estimate / 1e6).toFixed(6)} available; you have $${((client.balanceMicro - client.heldMicro) / 1e6).toFixed(6)}`,
    );
  }

  const id = crypto.randomUUID();
  const cluster = ports.cluster(node.region);
  const reserved = await cluster.reserve(node.region, {
    contractId: id,
    nodeId: node.id,
    ramGb: input.ramGb,
    vramGb: input.vramGb,
    clientUserId: user.id,
  });
  if (!reserved.ok) {
    throw new ApiError(
      "insufficient_capacity",
      reserved.reason === "insufficient_capacity"
        ? `this node has ${reserved.availableRamGb} GB RAM and ${reserved.availableVramGb} GB VRAM free now`
        : "this node takes no new contracts now",
    );
  }
  const now = Date.now();
  const row: ContractRow = {
    id,
    clientId: client.id,
    clientUserId: user.id,
    nodeId: node.id,
    providerId: node.providerId,
    region: node.region,
    ramGb: input.ramGb,
    vramGb: input.vramGb,
    durationSec: input.durationSec,
    termSec: input.durationSec,
    startTime: null,
    endTime: null,
    priceNano: node.priceNano,
    egressPriceMicro: offer?.egressPriceMicro ?? 0,
    minDurationSec: minDur,
    maxDurationSec: maxDur,
    totalCostMicro: estimate,
    accruedCostMicro: 0,
    heldMicro: estimate,
    chargedMicro: null,
    autoRenew: input.autoRenew ? 1 : 0,
    status: "pending",
    endedAt: null,
    endReason: null,
    actualEgressGb: null,
    graceUntil: null,
    renewals: 0,
    settlementHash: null,
    failedOverTo: null,
    failedOverFrom: input.failedOverFrom ?? null,
    failoverDoneAt: null,
    createdAt: now,
    completedAt: null,
  };
  try {
    await postLedger(
      env.DB,
      [{ kind: "hold", userId: user.id, contractId: id, amountMicro: -estimate, idempotencyKey: `hold:${id}:0`, memo: "contract created" }],
      () => [holdStatement(env.DB, client.id, estimate, now), toD1(env.DB, db.insert(contracts).values(row))],
    );
  } catch (e) {
    await cluster.release(node.region, id); // the money said no: give the capacity back at once
    throw e;
  }
  // Committed: the rest may follow the response (the reservation's confirm, the renter's sockets,
  // the node's push), gathered with the notices of concurrent creations.
  await announceCreated(ports, {
    region: node.region,
    home: client.defaultRegion ?? "global",
    contractId: id,
    nodeId: node.id,
    userId: user.id,
    message: { type: "contract_update", data: contractView(row) },
  });
  return row;
}
