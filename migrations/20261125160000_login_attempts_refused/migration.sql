-- A login refused by the rate limit counts against the address but not as a failure of the
-- account: a user retrying during a lock-out must not extend it.
ALTER TABLE login_attempts ADD COLUMN refused boolean NOT NULL DEFAULT false;
