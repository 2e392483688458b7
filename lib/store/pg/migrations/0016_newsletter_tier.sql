-- 0016_newsletter_tier: a membership tier as a newsletter audience.
--
-- audience 'tier': the members whose subscription to tier audience_id is in
-- good standing when a batch of recipients is written (trialing, active, or
-- past_due within the grace period, as tier_access grants) and who opted in
-- to newsletters.
ALTER TABLE newsletters DROP CONSTRAINT newsletters_audience_check;
ALTER TABLE newsletters ADD CONSTRAINT newsletters_audience_check
    CHECK (audience IN ('subscribers', 'group', 'event', 'tier'));
