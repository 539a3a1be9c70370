CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`name` text,
	`prefix` text NOT NULL,
	`key_hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`last_used_at` integer,
	`revoked_at` integer,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_hash_unique` ON `api_keys` (`key_hash`);--> statement-breakpoint
CREATE INDEX `api_keys_user_idx` ON `api_keys` (`user_id`);--> statement-breakpoint
CREATE TABLE `clients` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`org_name` text,
	`default_region` text,
	`latitude` real,
	`longitude` real,
	`budget_monthly_micro` integer,
	`prefer_local` integer DEFAULT 1 NOT NULL,
	`max_latency_ms` integer,
	`min_reliability` real,
	`balance_micro` integer DEFAULT 0 NOT NULL,
	`held_micro` integer DEFAULT 0 NOT NULL,
	`spend_month` text,
	`spend_month_micro` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "clients_balance_nonnegative" CHECK("clients"."balance_micro" >= 0),
	CONSTRAINT "clients_held_nonnegative" CHECK("clients"."held_micro" >= 0),
	CONSTRAINT "clients_held_within_balance" CHECK("clients"."held_micro" <= "clients"."balance_micro")
);
--> statement-breakpoint
CREATE UNIQUE INDEX `clients_user_unique` ON `clients` (`user_id`);--> statement-breakpoint
CREATE TABLE `clusters` (
	`region` text PRIMARY KEY NOT NULL,
	`name` text,
	`center_lat` real,
	`center_lng` real,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `contracts` (
	`id` text PRIMARY KEY NOT NULL,
	`client_id` text NOT NULL,
	`client_user_id` text NOT NULL,
	`node_id` text NOT NULL,
	`provider_id` text NOT NULL,
	`region` text NOT NULL,
	`ram_gb` integer NOT NULL,
	`vram_gb` integer NOT NULL,
	`duration_sec` integer NOT NULL,
	`term_sec` integer NOT NULL,
	`start_time` integer,
	`end_time` integer,
	`price_nano` integer NOT NULL,
	`egress_price_micro` integer DEFAULT 0 NOT NULL,
	`min_duration_sec` integer DEFAULT 60 NOT NULL,
	`max_duration_sec` integer DEFAULT 86400 NOT NULL,
	`total_cost_micro` integer NOT NULL,
	`accrued_cost_micro` integer DEFAULT 0 NOT NULL,
	`held_micro` integer DEFAULT 0 NOT NULL,
	`charged_micro` integer,
	`auto_renew` integer DEFAULT 0 NOT NULL,
	`status` text NOT NULL,
	`ended_at` integer,
	`end_reason` text,
	`actual_egress_gb` real,
	`grace_until` integer,
	`renewals` integer DEFAULT 0 NOT NULL,
	`settlement_hash` text,
	`failed_over_to` text,
	`failed_over_from` text,
	`created_at` integer NOT NULL,
	`completed_at` integer,
	FOREIGN KEY (`client_id`) REFERENCES `clients`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`client_user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`node_id`) REFERENCES `nodes`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`provider_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `contracts_client_idx` ON `contracts` (`client_user_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `contracts_provider_idx` ON `contracts` (`provider_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `contracts_node_status_idx` ON `contracts` (`node_id`,`status`);--> statement-breakpoint
CREATE INDEX `contracts_region_status_end_idx` ON `contracts` (`region`,`status`,`end_time`);--> statement-breakpoint
CREATE INDEX `contracts_status_idx` ON `contracts` (`status`);--> statement-breakpoint
CREATE TABLE `ledger_entries` (
	`seq` integer PRIMARY KEY NOT NULL,
	`id` text NOT NULL,
	`kind` text NOT NULL,
	`user_id` text,
	`contract_id` text,
	`transaction_id` text,
	`amount_micro` integer NOT NULL,
	`memo` text,
	`idempotency_key` text NOT NULL,
	`created_at` integer NOT NULL,
	`prev_hash` text NOT NULL,
	`hash` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `ledger_id_unique` ON `ledger_entries` (`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `ledger_idempotency_unique` ON `ledger_entries` (`idempotency_key`);--> statement-breakpoint
CREATE INDEX `ledger_user_idx` ON `ledger_entries` (`user_id`,`seq`);--> statement-breakpoint
CREATE INDEX `ledger_contract_idx` ON `ledger_entries` (`contract_id`);--> statement-breakpoint
CREATE INDEX `ledger_kind_time_idx` ON `ledger_entries` (`kind`,`created_at`);--> statement-breakpoint
CREATE TABLE `node_metrics` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`node_id` text NOT NULL,
	`recorded_at` integer NOT NULL,
	`available_ram_gb` integer NOT NULL,
	`available_vram_gb` integer NOT NULL,
	`cpu_usage_pct` real,
	`gpu_usage_pct` real,
	`temperature_c` real,
	`bandwidth_mbps` integer,
	FOREIGN KEY (`node_id`) REFERENCES `nodes`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `node_metrics_node_time_idx` ON `node_metrics` (`node_id`,`recorded_at`);--> statement-breakpoint
CREATE TABLE `nodes` (
	`id` text PRIMARY KEY NOT NULL,
	`provider_id` text NOT NULL,
	`name` text NOT NULL,
	`node_type` text NOT NULL,
	`region` text NOT NULL,
	`latitude` real,
	`longitude` real,
	`total_ram_gb` integer NOT NULL,
	`total_vram_gb` integer NOT NULL,
	`reported_ram_gb` integer NOT NULL,
	`reported_vram_gb` integer NOT NULL,
	`bandwidth_mbps` integer NOT NULL,
	`base_latency_ms` integer NOT NULL,
	`price_nano` integer NOT NULL,
	`status` text NOT NULL,
	`uptime_score` real DEFAULT 95 NOT NULL,
	`heartbeats_received` integer DEFAULT 0 NOT NULL,
	`failed_contracts` integer DEFAULT 0 NOT NULL,
	`metadata` text,
	`last_heartbeat_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`provider_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `nodes_provider_idx` ON `nodes` (`provider_id`);--> statement-breakpoint
CREATE INDEX `nodes_region_status_idx` ON `nodes` (`region`,`status`);--> statement-breakpoint
CREATE INDEX `nodes_status_idx` ON `nodes` (`status`);--> statement-breakpoint
CREATE TABLE `offers` (
	`id` text PRIMARY KEY NOT NULL,
	`node_id` text NOT NULL,
	`min_duration_sec` integer DEFAULT 60 NOT NULL,
	`max_duration_sec` integer DEFAULT 86400 NOT NULL,
	`egress_price_micro` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`node_id`) REFERENCES `nodes`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `offers_node_unique` ON `offers` (`node_id`);--> statement-breakpoint
CREATE TABLE `transactions` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`contract_id` text,
	`amount_micro` integer NOT NULL,
	`payment_method` text NOT NULL,
	`status` text NOT NULL,
	`stripe_payment_id` text,
	`blockchain` text,
	`tx_hash` text,
	`wallet_address` text,
	`idempotency_key` text,
	`failure_reason` text,
	`created_at` integer NOT NULL,
	`settled_at` integer,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `transactions_user_idx` ON `transactions` (`user_id`,`created_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `transactions_stripe_unique` ON `transactions` (`stripe_payment_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `transactions_tx_hash_unique` ON `transactions` (`blockchain`,`tx_hash`);--> statement-breakpoint
CREATE UNIQUE INDEX `transactions_idempotency_unique` ON `transactions` (`idempotency_key`);--> statement-breakpoint
CREATE TABLE `users` (
	`id` text PRIMARY KEY NOT NULL,
	`email` text NOT NULL,
	`password_hash` text NOT NULL,
	`role` text NOT NULL,
	`full_name` text,
	`organization` text,
	`stripe_account_id` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_email_unique` ON `users` (`email`);--> statement-breakpoint
CREATE TABLE `webhook_events` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`received_at` integer NOT NULL
);
