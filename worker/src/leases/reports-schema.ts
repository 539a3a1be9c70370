import { z } from "@hono/zod-openapi";

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** One lease's counters (every heartbeat) or its end-of-lease receipt (`final: true`). */
// Unknown fields (e.g. an agent's live `connections` count) are dropped, not refused.
export const LeaseReportSchema = z
  .object({
    contract_id: z.uuid(),
    bytes_in: count.openapi({ description: "Bytes received from the renter's clients over the lease's life" }),
    bytes_out: count.openapi({ description: "Bytes sent to the renter's clients: the lease's egress" }),
    keys: count,
    used_bytes: count.openapi({ description: "Bytes counted against the lease's quota (keys + values + the per-key overhead)" }),
    final: z.boolean().openapi({ description: "true only for the end-of-lease receipt, which carries digest and wiped_at" }),
    digest: z
      .string()
      .regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex characters")
      .optional()
      .openapi({ description: "SHA-256 over the keyspace at the end (layout in the agent README)" }),
    wiped_at: z.iso.datetime({ offset: true }).optional().openapi({ description: "When the lease's memory was zero-filled and freed" }),
  })
  .refine((r) => !r.final || (r.digest !== undefined && r.wiped_at !== undefined), {
    path: ["final"],
    message: "a final receipt must carry digest and wiped_at",
  })
  .openapi("LeaseReport");

export const LeaseReportsField = z.array(LeaseReportSchema).max(1000).openapi({
  description:
    "Counters for every open lease (`final: false`) and the receipt of every lease that ended (`final: true`). Reports for contracts not on this node are ignored; the counters replace the previous ones; a receipt is stored once and freezes them. Stored only from an accepted heartbeat: after a 429 send them again.",
});

export type LeaseReportInput = z.infer<typeof LeaseReportSchema>;

/** What a contract shows once its node reported the lease's end. */
export const LeaseReceiptSchema = z
  .object({
    contract_id: z.uuid(),
    bytes_in: z.number().int(),
    bytes_out: z.number().int(),
    keys: z.number().int(),
    used_bytes: z.number().int(),
    digest: z.string(),
    wiped_at: z.string(),
  })
  .openapi("LeaseReceipt");
