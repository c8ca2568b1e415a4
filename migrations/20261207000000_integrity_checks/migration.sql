-- The record of the fixity checks (`custodia check`, the weekly `integrity.check` job): when each
-- ran, what it covered and what it found, by ids and hashes only. It answers "when was the archive
-- last found intact?" for an operator's alert (the metrics read the latest row) and for a court,
-- so, like the audit log, it is append-only. `problems` keeps the first problems found (the service
-- caps the list); `problem_count` counts them all.
CREATE TABLE integrity_checks (
  id uuid PRIMARY KEY,
  trigger text NOT NULL CHECK (trigger IN ('schedule', 'command')),
  started_at timestamptz NOT NULL,
  finished_at timestamptz NOT NULL CHECK (finished_at >= started_at),
  blobs_checked integer NOT NULL CHECK (blobs_checked >= 0),
  bytes_read bigint NOT NULL CHECK (bytes_read >= 0),
  cases_checked integer NOT NULL CHECK (cases_checked >= 0),
  problem_count integer NOT NULL CHECK (problem_count >= 0),
  problems jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(problems) = 'array')
);
CREATE INDEX integrity_checks_finished_idx ON integrity_checks (finished_at DESC);
CREATE TRIGGER integrity_checks_append_only BEFORE UPDATE OR DELETE ON integrity_checks
  FOR EACH ROW EXECUTE FUNCTION refuse_mutation();
CREATE TRIGGER integrity_checks_no_truncate BEFORE TRUNCATE ON integrity_checks
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_mutation();
