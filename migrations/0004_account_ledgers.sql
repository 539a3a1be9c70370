-- Per-account ledger chains, the budget cap on new holds only, a record of dead settlement
-- messages, and retired nodes.
--
-- 1. Chains per account. One chain for the whole platform made every money movement compete for
--    `seq = head + 1`; now each account (a renter, a provider, the platform's fee account per
--    region: `platform:<region>`) has its own chain, `(account, account_seq)` unique, and `seq`
--    is only the global insertion order (SQLite assigns it). SQLite has no SHA-256, so this file
--    cannot recompute the hashes: entries written before it keep `chain_version = 1`, and the
--    worker re-chains them once (ledger/rechain.ts: assigns account and account_seq, recomputes
--    prev_hash/hash per account, sets chain_version = 2) before it appends anything. The step is
--    idempotent and deterministic, so two isolates running it at once write the same values.
ALTER TABLE `ledger_entries` ADD `account` text;
--> statement-breakpoint
ALTER TABLE `ledger_entries` ADD `account_seq` integer;
--> statement-breakpoint
ALTER TABLE `ledger_entries` ADD `chain_version` integer DEFAULT 1 NOT NULL;
--> statement-breakpoint
CREATE UNIQUE INDEX `ledger_account_seq_unique` ON `ledger_entries` (`account`, `account_seq`);
--> statement-breakpoint
CREATE INDEX `ledger_legacy_idx` ON `ledger_entries` (`chain_version`, `seq`);
--> statement-breakpoint
-- Append-only, except the one-time re-chain of a legacy entry (version 1 → 2, its content unchanged).
DROP TRIGGER `ledger_no_update`;
--> statement-breakpoint
CREATE TRIGGER ledger_no_update
BEFORE UPDATE ON ledger_entries
WHEN NOT (OLD.chain_version = 1 AND NEW.chain_version = 2
  AND NEW.seq IS OLD.seq AND NEW.id IS OLD.id AND NEW.kind IS OLD.kind AND NEW.user_id IS OLD.user_id
  AND NEW.contract_id IS OLD.contract_id AND NEW.transaction_id IS OLD.transaction_id
  AND NEW.amount_micro IS OLD.amount_micro AND NEW.memo IS OLD.memo
  AND NEW.idempotency_key IS OLD.idempotency_key AND NEW.created_at IS OLD.created_at)
BEGIN
  SELECT RAISE(ABORT, 'ledger entries are append-only');
END;
--> statement-breakpoint
-- 2. The budget cap governs new holds only (API.md, Billing): it fires when a statement grows a
--    hold, never when settlement charges what was used (which may exceed the hold: egress, grace).
DROP TRIGGER `clients_budget_cap`;
--> statement-breakpoint
CREATE TRIGGER clients_budget_cap
BEFORE UPDATE OF spend_month_micro, held_micro ON clients
WHEN NEW.budget_monthly_micro IS NOT NULL
  AND NEW.held_micro > OLD.held_micro
  AND NEW.spend_month_micro > NEW.budget_monthly_micro
BEGIN
  SELECT RAISE(ABORT, 'budget_exceeded');
END;
--> statement-breakpoint
-- 3. Settlement messages that exhausted their retries, recorded by the dead-letter consumer and
--    retried by the region reconciler until settled (resolved_at set).
CREATE TABLE `settlement_dead_letters` (
	`message_id` text PRIMARY KEY NOT NULL,
	`contract_id` text,
	`body` text NOT NULL,
	`attempts` integer NOT NULL,
	`received_at` integer NOT NULL,
	`retries` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`resolved_at` integer
);
--> statement-breakpoint
CREATE INDEX `dead_letters_open_idx` ON `settlement_dead_letters` (`resolved_at`, `received_at`);
--> statement-breakpoint
-- 4. Retired nodes (DELETE /api/nodes/{id}): status `offline` for good; heartbeats answer 410.
ALTER TABLE `nodes` ADD `retired_at` integer;
--> statement-breakpoint
-- The reconciler's scan: ended contracts not yet charged, per region.
CREATE INDEX `contracts_unsettled_idx` ON `contracts` (`region`, `charged_micro`, `ended_at`);
