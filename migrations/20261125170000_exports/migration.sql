-- Export jobs: one row per requested case-file export. The job (pg-boss queue `exports.run`) moves
-- it from queued to running to done or failed; the finished bundle lives in the blob store under
-- `storage_key` (never a local path). `included_evidence_ids` and `custody_recorded_at` are set in the same
-- transaction as the export's `exported` custody entries, so that a retried job neither appends them twice nor
-- ships a different set of items. `attempts` fences a retried job against an older attempt that
-- is still running somewhere (each attempt owns the row only while attempts is its own number).
CREATE TABLE exports (
  id                     uuid PRIMARY KEY,
  case_id                uuid NOT NULL REFERENCES cases(id),
  created_by             uuid NOT NULL REFERENCES users(id),
  scope                  jsonb NOT NULL DEFAULT '{}'::jsonb,
  redaction              text NOT NULL CHECK (redaction IN ('protect_witnesses', 'full')),
  status                 text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
  progress               double precision NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
  bytes                  bigint NOT NULL DEFAULT 0 CHECK (bytes >= 0),
  sha256                 text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  error                  text,
  storage_key            text,
  included_evidence_ids  uuid[] NOT NULL DEFAULT '{}',
  custody_recorded_at    timestamptz,
  attempts               integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  heartbeat_at           timestamptz,
  created_at             timestamptz NOT NULL DEFAULT now(),
  started_at             timestamptz,
  finished_at            timestamptz,
  CHECK (status <> 'done' OR (sha256 IS NOT NULL AND storage_key IS NOT NULL AND finished_at IS NOT NULL))
);
CREATE INDEX exports_case_idx ON exports (case_id, created_at);
CREATE INDEX exports_created_by_idx ON exports (created_by);
