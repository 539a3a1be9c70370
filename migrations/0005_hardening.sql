-- Hardening (issue 11). Hand-written; additive only (no table rebuilds, so columns other
-- migrations add to `nodes` survive whatever order the migrations are merged in).

-- nodes.base_latency_ms is a decimal with up to 3 places (the seed's DECIMAL(8,3), e.g. 0.8).
-- The column keeps its declared INTEGER affinity: SQLite stores a value that is not a whole
-- number as REAL in such a column (and 5.0 as the integer 5), so no rebuild is needed; the API
-- refuses more than 3 decimals, and drizzle reads the column as a real.

-- Regions: the `clusters` table is the list of regions that exist. A region exists once a node
-- registered in it (POST /api/nodes/register inserts the row); nothing else may create one, so an
-- unknown region never wakes a Durable Object. Regions of nodes registered before this migration:
INSERT OR IGNORE INTO `clusters` (`region`, `name`, `center_lat`, `center_lng`, `created_at`)
  SELECT `region`, NULL, `latitude`, `longitude`, MIN(`created_at`) FROM `nodes` GROUP BY `region`;
--> statement-breakpoint

-- Login and registration throttling (worker/src/auth/throttle.ts). One row per throttled key:
-- 'login-email:<sha256 of the email>', 'login-ip:<address>', 'register-ip:<address>'. Emails are
-- stored hashed so the table is no list of addresses. `failures` counts consecutive failures (or
-- registrations) inside the current window; `blocked_until` is when the next attempt is allowed.
CREATE TABLE `auth_throttle` (
	`key` text PRIMARY KEY NOT NULL,
	`failures` integer NOT NULL DEFAULT 0,
	`window_start` integer NOT NULL,
	`blocked_until` integer NOT NULL DEFAULT 0,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint

-- Wallets a user claims for USDC payments. `verified_at` is set once the user signed `challenge`
-- with the wallet's key (EIP-191 personal_sign). A verified address belongs to one account only.
CREATE TABLE `wallets` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL REFERENCES `users`(`id`),
	`blockchain` text NOT NULL,
	`address` text NOT NULL,
	`challenge` text NOT NULL,
	`verified_at` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `wallets_user_idx` ON `wallets` (`user_id`, `blockchain`, `address`);
--> statement-breakpoint
CREATE UNIQUE INDEX `wallets_verified_unique` ON `wallets` (`blockchain`, `address`) WHERE `verified_at` IS NOT NULL;
