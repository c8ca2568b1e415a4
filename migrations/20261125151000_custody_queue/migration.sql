-- The custody queue (Trillian's queue + sequencer): a custody event is first written here, in the
-- transaction of the change it records, without any lock; the sequencer (integrateCustodyQueue)
-- then gives queued events their `seq` under the custody_logs row lock, many at a time. So
-- concurrent writers of one case commit in parallel (PostgreSQL's group commit) instead of one
-- commit at a time through the log lock.
CREATE TABLE custody_queue (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  case_id          uuid NOT NULL REFERENCES cases(id),
  evidence_id      uuid NOT NULL REFERENCES evidence(id),
  evidence_sha256  text NOT NULL CHECK (evidence_sha256 ~ '^[0-9a-f]{64}$'),
  action           text NOT NULL CHECK (action <> ''),
  actor_id         uuid REFERENCES users(id),
  at               timestamptz NOT NULL,
  -- RFC 8785 canonical JSON of the entry's details object.
  details          text NOT NULL,
  queued_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX custody_queue_case_idx ON custody_queue (case_id, id);

-- The queue row an entry was integrated from: a writer finds the seq its event received.
ALTER TABLE custody_entries ADD COLUMN queue_id bigint UNIQUE;
