import { z } from "@hono/zod-openapi";
import { LeaseReceiptSchema } from "../leases/reports-schema";

export const ContractSchema = z
  .object({
    id: z.uuid(),
    client_id: z.uuid(),
    node_id: z.uuid(),
    region: z.string(),
    ram_gb: z.number().int(),
    vram_gb: z.number().int(),
    duration_sec: z.number().int(),
    start_time: z.string().nullable().openapi({ description: "Set when the node acknowledges the contract (active)" }),
    end_time: z.string().nullable(),
    price_per_gb_sec: z.number(),
    egress_price_per_gb: z.number(),
    total_cost_usd: z.number().openapi({ description: "The estimate (all held terms) until the contract ends, then the final cost" }),
    accrued_cost_usd: z.number().openapi({ description: "Cost so far, metered every minute while active" }),
    held_usd: z.number().openapi({ description: "Currently held from the renter's balance for this contract" }),
    charged_usd: z.number().nullable().openapi({ description: "Taken from the balance at settlement (null until settled)" }),
    outstanding_usd: z.number().openapi({ description: "Final cost the balance could not cover at settlement" }),
    auto_renew: z.boolean(),
    status: z.enum(["pending", "active", "completed", "failed", "cancelled"]),
    end_reason: z.string().nullable(),
    ended_at: z.string().nullable(),
    grace_until: z.string().nullable(),
    renewals: z.number().int(),
    settlement_hash: z.string().nullable().openapi({ description: "Hash of the settlement's charge entry in the ledger" }),
    failed_over_to: z.uuid().nullable(),
    failed_over_from: z.uuid().nullable(),
    created_at: z.string(),
    completed_at: z.string().nullable(),
    lease_receipt: LeaseReceiptSchema.nullable().openapi({
      description:
        "The node's end-of-lease receipt (counters, keyspace digest, when the memory was wiped); null until the node reports the lease's end",
    }),
    measured_egress_gb: z.number().nullable().openapi({
      description:
        "Egress measured by the node (its bytes_out / 2^30); once settled, the figure that was billed. null while the node has reported nothing",
    }),
  })
  .openapi("Contract");

export const CreateContractBody = z
  .object({
    node_id: z.uuid(),
    ram_gb: z.number().int().min(0).max(1_000_000),
    vram_gb: z.number().int().min(0).max(1_000_000),
    duration_sec: z.number().int().min(1).max(31_536_000),
    auto_renew: z.boolean().default(false),
  })
  .refine((b) => b.ram_gb + b.vram_gb > 0, { path: ["ram_gb"], message: "ram_gb + vram_gb must be > 0" })
  .openapi("CreateContract");

export const ListContractsQuery = z.object({
  status: z.enum(["pending", "active", "completed", "failed", "cancelled"]).optional(),
  node_id: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});

export const SettleBody = z.object({ actual_egress_gb: z.number().min(0).max(1e9).optional() }).openapi("SettleContract");
export const ExtendBody = z.object({ additional_sec: z.number().int().min(1).max(31_536_000) }).openapi("ExtendContract");
