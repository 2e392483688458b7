-- 0015_privacy: member erasure (members.erase, lib/core/ops_privacy.c).
--
-- erased_at: when the member's personal data was erased. The row itself
-- stays, anonymised (name 'Erased member', e-mail erased-<id>@invalid, no
-- password, profile emptied, suspended), because orders, tickets and the
-- ledger that accounting law keeps still name it.
-- platform.uploads_sweep: deletes from storage, after the erasure has
-- committed, the stored files blob_trash lists; retried until it succeeds.
-- platform.uploads_prune: the daily prune of replaced versions.
ALTER TABLE members ADD COLUMN erased_at INTEGER;

INSERT INTO job_kinds (kind, queue, priority, max_attempts, backoff, backoff_us, backoff_max_us,
                       timeout_us, max_payload, created_at, updated_at)
VALUES ('platform.uploads_sweep', 'platform', 0, 25, 'exponential', 1000000, 3600000000,
        600000000, 4096, 0, 0);
INSERT INTO job_kinds (kind, queue, priority, max_attempts, backoff, backoff_us, backoff_max_us,
                       timeout_us, max_payload, created_at, updated_at)
VALUES ('platform.uploads_prune', 'platform', 0, 5, 'exponential', 1000000, 3600000000,
        600000000, 4096, 0, 0);
