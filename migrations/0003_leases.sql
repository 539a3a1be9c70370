-- The data plane: where a node serves its leases, and what it reports about them.

-- `host:port` of the node's lease server (RESP). Shown only to the node's owner and admins; renters
-- get it inside their contract's lease.
ALTER TABLE `nodes` ADD `endpoint` text;
--> statement-breakpoint
-- One row per contract: the node's latest counters for the lease, replaced by every heartbeat until
-- the end-of-lease receipt (`final` = 1, with `digest` and `wiped_at`) freezes it. `billed_bytes_out`
-- is the egress settlement charged (set once, so a late report can never bill twice).
CREATE TABLE `lease_reports` (
	`contract_id` text PRIMARY KEY NOT NULL REFERENCES `contracts`(`id`),
	`node_id` text NOT NULL REFERENCES `nodes`(`id`),
	`bytes_in` integer NOT NULL,
	`bytes_out` integer NOT NULL,
	`keys` integer NOT NULL,
	`used_bytes` integer NOT NULL,
	`final` integer NOT NULL DEFAULT 0,
	`digest` text,
	`wiped_at` integer,
	`reported_at` integer NOT NULL,
	`billed_bytes_out` integer,
	`billed_at` integer
);
--> statement-breakpoint
-- The ready-timeout sweep looks for pending contracts by age.
CREATE INDEX `contracts_status_created_idx` ON `contracts` (`status`, `created_at`);
