-- Resumable (tus) uploads in progress. The bytes live in the upload directory of the data
-- directory, named by the upload's id (never a path in a row); `complete` turns a finished upload
-- into evidence and records which. Unfinished uploads past `expires_at` are removed by the
-- `uploads.expire` job (rows and bytes).
CREATE TABLE uploads (
  id                     uuid PRIMARY KEY,
  case_id                uuid NOT NULL REFERENCES cases(id),
  created_by             uuid NOT NULL REFERENCES users(id),
  upload_length          bigint NOT NULL CHECK (upload_length >= 0),
  original_filename      text NOT NULL DEFAULT '',
  created_at             timestamptz NOT NULL DEFAULT now(),
  expires_at             timestamptz NOT NULL,
  completed_evidence_id  uuid REFERENCES evidence(id)
);
CREATE INDEX uploads_expires_idx ON uploads (expires_at) WHERE completed_evidence_id IS NULL;
CREATE INDEX uploads_created_by_idx ON uploads (created_by);
