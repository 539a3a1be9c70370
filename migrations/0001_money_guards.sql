-- Money invariants the database itself enforces, so that no code path (and no race between
-- concurrent requests, since D1 cannot lock rows for us) can overspend a balance or a budget.
-- The RAISE messages are the API error codes; the worker maps them to 402 responses.

-- A hold may only grow while the balance covers it.
CREATE TRIGGER clients_hold_requires_funds
BEFORE UPDATE OF held_micro ON clients
WHEN NEW.held_micro > OLD.held_micro AND NEW.held_micro > NEW.balance_micro
BEGIN
  SELECT RAISE(ABORT, 'insufficient_funds');
END;
--> statement-breakpoint
-- This month's committed spend may only grow while it stays within the monthly budget.
CREATE TRIGGER clients_budget_cap
BEFORE UPDATE OF spend_month_micro ON clients
WHEN NEW.budget_monthly_micro IS NOT NULL
  AND NEW.spend_month_micro > NEW.budget_monthly_micro
  AND NEW.spend_month_micro > (CASE WHEN NEW.spend_month IS OLD.spend_month THEN OLD.spend_month_micro ELSE 0 END)
BEGIN
  SELECT RAISE(ABORT, 'budget_exceeded');
END;
--> statement-breakpoint
-- The ledger is append-only.
CREATE TRIGGER ledger_no_update
BEFORE UPDATE ON ledger_entries
BEGIN
  SELECT RAISE(ABORT, 'ledger entries are append-only');
END;
--> statement-breakpoint
CREATE TRIGGER ledger_no_delete
BEFORE DELETE ON ledger_entries
BEGIN
  SELECT RAISE(ABORT, 'ledger entries are append-only');
END;
