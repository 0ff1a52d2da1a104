-- A failed (流标) or cancelled lot withdraws its outstanding invitations and closes its draw.
ALTER TABLE expert_draw_members DROP CONSTRAINT expert_draw_members_status_check;
ALTER TABLE expert_draw_members ADD CONSTRAINT expert_draw_members_status_check CHECK (status IN
    ('alternate', 'invited', 'confirmed', 'declined', 'timed_out', 'skipped', 'replaced', 'withdrawn'));
ALTER TABLE expert_draws DROP CONSTRAINT expert_draws_status_check;
ALTER TABLE expert_draws ADD CONSTRAINT expert_draws_status_check CHECK (status IN
    ('committed', 'drawn', 'complete', 'short', 'cancelled'));
