-- A failed contract's failover has a result once a replacement exists or none could be found
-- (`failover_done_at`). Until then the region reconciler retries the replacement step, so a
-- failover that ended the contract but threw before placing the rest of its term is finished later.
ALTER TABLE contracts ADD COLUMN failover_done_at INTEGER;
-- Failovers from before this column had their one attempt: they count as done.
UPDATE contracts SET failover_done_at = COALESCE(completed_at, ended_at) WHERE status = 'failed';
