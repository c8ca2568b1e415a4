-- Foundation: users, sessions, cases, memberships, the audit trail and revisions.
CREATE EXTENSION IF NOT EXISTS pgcrypto;

-- Refuses any change to rows of an append-only table (audit, revisions, custody log).
CREATE FUNCTION refuse_mutation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TABLE users (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email           text NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
  display_name    text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
  role            text NOT NULL CHECK (role IN ('admin', 'member')),
  password_hash   text NOT NULL,
  disabled        boolean NOT NULL DEFAULT false,
  -- TOTP secrets are sealed with the master key (src/crypto/envelope.ts), never stored in clear.
  totp_secret     bytea,
  totp_key        bytea,
  totp_key_id     text,
  totp_enabled    boolean NOT NULL DEFAULT false,
  totp_last_step  bigint,
  version         integer NOT NULL DEFAULT 1,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sessions (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id       uuid NOT NULL REFERENCES users(id),
  token_hash    bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  revoked_at    timestamptz,
  address       text,
  user_agent    text
);
CREATE INDEX sessions_user_idx ON sessions (user_id) WHERE revoked_at IS NULL;

-- Every login attempt, kept in the database so that rate limits hold across instances.
CREATE TABLE login_attempts (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email      text NOT NULL,
  address    text NOT NULL,
  succeeded  boolean NOT NULL,
  at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_attempts_email_idx ON login_attempts (email, at);
CREATE INDEX login_attempts_address_idx ON login_attempts (address, at);

CREATE TABLE cases (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  reference    text NOT NULL UNIQUE CHECK (length(reference) BETWEEN 1 AND 64),
  title        text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
  description  text NOT NULL DEFAULT '',
  status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed', 'archived')),
  created_by   uuid NOT NULL REFERENCES users(id),
  version      integer NOT NULL DEFAULT 1,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE case_memberships (
  case_id     uuid NOT NULL REFERENCES cases(id),
  user_id     uuid NOT NULL REFERENCES users(id),
  role        text NOT NULL CHECK (role IN ('lead', 'investigator', 'reviewer', 'counsel', 'observer')),
  expires_at  timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (case_id, user_id)
);
CREATE INDEX case_memberships_user_idx ON case_memberships (user_id);

CREATE TABLE audit_entries (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at           timestamptz NOT NULL DEFAULT now(),
  actor_id     uuid REFERENCES users(id),
  action       text NOT NULL,
  outcome      text NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
  target_type  text,
  target_id    text,
  case_id      uuid REFERENCES cases(id),
  request_id   text,
  address      text,
  user_agent   text,
  details      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_entries_case_idx ON audit_entries (case_id, id);
CREATE INDEX audit_entries_actor_idx ON audit_entries (actor_id, id);
CREATE INDEX audit_entries_action_idx ON audit_entries (action, id);
CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
  FOR EACH ROW EXECUTE FUNCTION refuse_mutation();
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_mutation();

-- One row per version of a mutable record: the state after the change, who made it and what changed.
CREATE TABLE revisions (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  entity_type  text NOT NULL,
  entity_id    uuid NOT NULL,
  case_id      uuid REFERENCES cases(id),
  version      integer NOT NULL,
  snapshot     jsonb NOT NULL,
  changes      jsonb NOT NULL DEFAULT '[]',
  actor_id     uuid REFERENCES users(id),
  at           timestamptz NOT NULL DEFAULT now(),
  UNIQUE (entity_type, entity_id, version)
);
CREATE TRIGGER revisions_append_only BEFORE UPDATE OR DELETE ON revisions
  FOR EACH ROW EXECUTE FUNCTION refuse_mutation();
CREATE TRIGGER revisions_no_truncate BEFORE TRUNCATE ON revisions
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_mutation();
