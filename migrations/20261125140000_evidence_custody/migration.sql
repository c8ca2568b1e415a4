-- Evidence, the content-addressed blobs behind it, four-eyes reviews, the per-case custody log
-- (RFC 6962 shaped), its signed checkpoints, and the published signing keys.

-- One row per distinct content. Bytes live in the blob store under `storage_key` (never a local
-- path: the store may be a filesystem or an S3-compatible bucket).
CREATE TABLE blobs (
  sha256       text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size_bytes   bigint NOT NULL CHECK (size_bytes >= 0),
  storage_key  text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE evidence (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  case_id            uuid NOT NULL REFERENCES cases(id),
  sha256             text NOT NULL REFERENCES blobs(sha256),
  size_bytes         bigint NOT NULL CHECK (size_bytes >= 0),
  media_type         text NOT NULL,
  original_filename  text NOT NULL DEFAULT '',
  title              text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
  description        text NOT NULL DEFAULT '',
  incident_ids       uuid[] NOT NULL DEFAULT '{}',
  source             jsonb NOT NULL,
  acquisition        text NOT NULL,
  collected_at       timestamptz NOT NULL,
  collected_by       uuid NOT NULL REFERENCES users(id),
  submitted_by       uuid NOT NULL REFERENCES users(id),
  captured_at        timestamptz,
  capture_lat        double precision CHECK (capture_lat BETWEEN -90 AND 90),
  capture_lon        double precision CHECK (capture_lon BETWEEN -180 AND 180),
  capture_metadata   jsonb NOT NULL DEFAULT '{}',
  review_status      text NOT NULL DEFAULT 'unreviewed'
                     CHECK (review_status IN ('unreviewed', 'verified', 'disputed', 'rejected', 'needs_information', 'integrity_failed')),
  retracted_at       timestamptz,
  retracted_by       uuid REFERENCES users(id),
  retraction_reason  text,
  version            integer NOT NULL DEFAULT 1,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  CHECK ((capture_lat IS NULL) = (capture_lon IS NULL)),
  CHECK ((retracted_at IS NULL) = (retraction_reason IS NULL))
);
CREATE INDEX evidence_case_idx ON evidence (case_id, created_at DESC, id DESC);
CREATE INDEX evidence_sha256_idx ON evidence (sha256);
CREATE INDEX evidence_incidents_idx ON evidence USING gin (incident_ids);

CREATE TABLE reviews (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  evidence_id        uuid NOT NULL REFERENCES evidence(id),
  case_id            uuid NOT NULL REFERENCES cases(id),
  reviewer_id        uuid NOT NULL REFERENCES users(id),
  decision           text NOT NULL CHECK (decision IN ('verified', 'disputed', 'rejected', 'needs_information')),
  notes              text NOT NULL DEFAULT '',
  checks             jsonb NOT NULL DEFAULT '[]',
  integrity_sha256   text NOT NULL CHECK (integrity_sha256 ~ '^[0-9a-f]{64}$'),
  integrity_matches  boolean NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reviews_evidence_idx ON reviews (evidence_id, created_at);
CREATE TRIGGER reviews_append_only BEFORE UPDATE OR DELETE ON reviews
  FOR EACH ROW EXECUTE FUNCTION refuse_mutation();
CREATE TRIGGER reviews_no_truncate BEFORE TRUNCATE ON reviews
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_mutation();

-- The log entries. `entry` is the exact canonical (RFC 8785) JSON whose leaf hash is stored:
-- verification recomputes the hash from these bytes.
CREATE TABLE custody_entries (
  case_id      uuid NOT NULL REFERENCES cases(id),
  seq          bigint NOT NULL CHECK (seq >= 0),
  evidence_id  uuid NOT NULL REFERENCES evidence(id),
  action       text NOT NULL,
  actor_id     uuid REFERENCES users(id),
  at           timestamptz NOT NULL,
  entry        text NOT NULL,
  leaf_hash    bytea NOT NULL CHECK (length(leaf_hash) = 32),
  PRIMARY KEY (case_id, seq)
);
CREATE INDEX custody_entries_evidence_idx ON custody_entries (evidence_id, seq);
CREATE TRIGGER custody_entries_append_only BEFORE UPDATE OR DELETE ON custody_entries
  FOR EACH ROW EXECUTE FUNCTION refuse_mutation();
CREATE TRIGGER custody_entries_no_truncate BEFORE TRUNCATE ON custody_entries
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_mutation();

-- The tree state of each case's log: its size and the right-edge subtree hashes (a compact
-- range), so that an append costs O(log n). Its row lock serialises appends across instances.
CREATE TABLE custody_logs (
  case_id     uuid PRIMARY KEY REFERENCES cases(id),
  size        bigint NOT NULL DEFAULT 0 CHECK (size >= 0),
  frontier    jsonb NOT NULL DEFAULT '[]',
  root_hash   bytea NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Published signing keys: the current one signs, retired ones stay so old checkpoints verify.
CREATE TABLE signing_keys (
  key_id          text PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{8}$'),
  name            text NOT NULL,
  public_key_pem  text NOT NULL,
  status          text NOT NULL CHECK (status IN ('current', 'retired')),
  created_at      timestamptz NOT NULL DEFAULT now(),
  retired_at      timestamptz
);

-- One checkpoint per (case, size): the root of a given size is unique, so two checkpoints can
-- never disagree.
CREATE TABLE custody_checkpoints (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  case_id     uuid NOT NULL REFERENCES cases(id),
  size        bigint NOT NULL CHECK (size >= 0),
  root_hash   bytea NOT NULL CHECK (length(root_hash) = 32),
  note        text NOT NULL,
  key_id      text NOT NULL REFERENCES signing_keys(key_id),
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (case_id, size)
);
CREATE TRIGGER custody_checkpoints_append_only BEFORE UPDATE OR DELETE ON custody_checkpoints
  FOR EACH ROW EXECUTE FUNCTION refuse_mutation();
CREATE TRIGGER custody_checkpoints_no_truncate BEFORE TRUNCATE ON custody_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_mutation();
