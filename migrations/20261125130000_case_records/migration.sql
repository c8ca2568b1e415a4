-- Case records: incidents (with full-text search), witnesses with encrypted identities, statements.

-- unaccent ships with PostgreSQL's contrib (present in the distribution packages and in the
-- embedded binaries). It is not IMMUTABLE, because its dictionary could change; wrapping it with a
-- schema-qualified dictionary lets generated columns and indexes use it.
CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public;

CREATE FUNCTION custodia_unaccent(text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$;

-- French and English stems of the same text, so that a query in either language finds it.
CREATE FUNCTION custodia_search_vector(weighted text, plain text) RETURNS tsvector
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$
    SELECT setweight(to_tsvector('pg_catalog.french'::regconfig, public.custodia_unaccent(coalesce($1, ''))), 'A')
        || setweight(to_tsvector('pg_catalog.english'::regconfig, public.custodia_unaccent(coalesce($1, ''))), 'A')
        || setweight(to_tsvector('pg_catalog.french'::regconfig, public.custodia_unaccent(coalesce($2, ''))), 'B')
        || setweight(to_tsvector('pg_catalog.english'::regconfig, public.custodia_unaccent(coalesce($2, ''))), 'B')
  $$;

-- The query side of the same: what either language makes of the words typed.
CREATE FUNCTION custodia_search_query(q text) RETURNS tsquery
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  AS $$
    SELECT websearch_to_tsquery('pg_catalog.french'::regconfig, public.custodia_unaccent($1))
        || websearch_to_tsquery('pg_catalog.english'::regconfig, public.custodia_unaccent($1))
  $$;

-- The last day an incident may have happened, from its dates and their precision
-- (a month-precise date is the first of that month, a year-precise one the first of January).
CREATE FUNCTION custodia_period_end(occurred_from date, occurred_to date, date_precision text) RETURNS date
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$
    SELECT CASE $3
      WHEN 'month' THEN (coalesce($2, $1) + interval '1 month' - interval '1 day')::date
      WHEN 'year'  THEN (coalesce($2, $1) + interval '1 year' - interval '1 day')::date
      ELSE coalesce($2, $1)
    END
  $$;

CREATE TABLE incidents (
  id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  case_id               uuid NOT NULL REFERENCES cases(id),
  title                 text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
  summary               text NOT NULL DEFAULT '' CHECK (length(summary) <= 20000),
  occurred_from         date NOT NULL,
  occurred_to           date,
  date_precision        text NOT NULL DEFAULT 'day' CHECK (date_precision IN ('day', 'month', 'year')),
  occurred_until        date GENERATED ALWAYS AS (custodia_period_end(occurred_from, occurred_to, date_precision)) STORED,
  location_name         text CHECK (length(location_name) <= 300),
  location_admin_area   text CHECK (length(location_admin_area) <= 300),
  location_country      text CHECK (location_country ~ '^[A-Z]{2}$'),
  location_lat          double precision CHECK (location_lat BETWEEN -90 AND 90),
  location_lon          double precision CHECK (location_lon BETWEEN -180 AND 180),
  location_precision_m  integer CHECK (location_precision_m >= 0),
  categories            text[] NOT NULL DEFAULT '{}',
  killed                integer CHECK (killed >= 0),
  injured               integer CHECK (injured >= 0),
  missing               integer CHECK (missing >= 0),
  detained              integer CHECK (detained >= 0),
  alleged_perpetrators  text[] NOT NULL DEFAULT '{}',
  status                text NOT NULL DEFAULT 'draft'
                        CHECK (status IN ('draft', 'under_review', 'corroborated', 'disputed', 'closed')),
  created_by            uuid NOT NULL REFERENCES users(id),
  retracted_at          timestamptz,
  retracted_by          uuid REFERENCES users(id),
  retraction_reason     text,
  version               integer NOT NULL DEFAULT 1,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  search_vector         tsvector GENERATED ALWAYS AS (
                          custodia_search_vector(title, summary || ' ' || coalesce(location_name, '') || ' ' || coalesce(location_admin_area, ''))
                        ) STORED,
  UNIQUE (case_id, id),
  CHECK (occurred_to IS NULL OR occurred_to >= occurred_from),
  CHECK ((location_lat IS NULL) = (location_lon IS NULL)),
  CHECK ((retracted_at IS NULL) = (retraction_reason IS NULL))
);
CREATE INDEX incidents_case_created_idx ON incidents (case_id, created_at DESC, id DESC);
CREATE INDEX incidents_case_period_idx ON incidents (case_id, occurred_from, occurred_until);
CREATE INDEX incidents_search_idx ON incidents USING gin (search_vector);
CREATE INDEX incidents_categories_idx ON incidents USING gin (categories);
CREATE INDEX incidents_location_idx ON incidents USING gist (point(location_lon, location_lat))
  WHERE location_lat IS NOT NULL;

-- The last witness number given out in each case. Taking the next one locks the case's row
-- until the transaction ends, so numbers are gapless (a rollback gives it back) and unique,
-- whichever instance asks.
CREATE TABLE witness_counters (
  case_id      uuid PRIMARY KEY REFERENCES cases(id),
  last_number  integer NOT NULL CHECK (last_number > 0)
);

CREATE TABLE witnesses (
  id                        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  case_id                   uuid NOT NULL REFERENCES cases(id),
  number                    integer NOT NULL CHECK (number > 0),
  code                      text NOT NULL CHECK (code ~ '^W-[0-9]{4,}$'),
  risk_level                text NOT NULL DEFAULT 'medium' CHECK (risk_level IN ('low', 'medium', 'high', 'extreme')),
  consent_interview         boolean NOT NULL DEFAULT false,
  consent_use_in_proceedings boolean NOT NULL DEFAULT false,
  consent_share_with_accountability_bodies boolean NOT NULL DEFAULT false,
  consent_identity_disclosure boolean NOT NULL DEFAULT false,
  consent_contact_allowed   boolean NOT NULL DEFAULT false,
  consent_notes             text NOT NULL DEFAULT '' CHECK (length(consent_notes) <= 5000),
  registered_by             uuid NOT NULL REFERENCES users(id),
  identity_erased_at        timestamptz,
  identity_erased_by        uuid REFERENCES users(id),
  retracted_at              timestamptz,
  retracted_by              uuid REFERENCES users(id),
  retraction_reason         text,
  version                   integer NOT NULL DEFAULT 1,
  created_at                timestamptz NOT NULL DEFAULT now(),
  updated_at                timestamptz NOT NULL DEFAULT now(),
  UNIQUE (case_id, number),
  UNIQUE (case_id, code),
  UNIQUE (case_id, id),
  CHECK ((retracted_at IS NULL) = (retraction_reason IS NULL))
);
CREATE INDEX witnesses_case_created_idx ON witnesses (case_id, created_at DESC, id DESC);

-- A witness's identity, sealed (src/crypto/envelope.ts): the ciphertext under a data key of its
-- own, that key wrapped by the master key `master_key_id`, the witness id bound in both.
-- Erasure deletes the row: without the wrapped key nothing left can be decrypted.
CREATE TABLE witness_identities (
  witness_id     uuid PRIMARY KEY REFERENCES witnesses(id),
  ciphertext     bytea NOT NULL,
  wrapped_key    bytea NOT NULL,
  master_key_id  text NOT NULL,
  updated_by     uuid NOT NULL REFERENCES users(id),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX witness_identities_master_key_idx ON witness_identities (master_key_id);

CREATE TABLE statements (
  id                        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  case_id                   uuid NOT NULL REFERENCES cases(id),
  witness_id                uuid NOT NULL,
  taken_at                  timestamptz NOT NULL,
  place                     text NOT NULL DEFAULT '' CHECK (length(place) <= 300),
  language                  text NOT NULL CHECK (length(language) BETWEEN 2 AND 35),
  interpreter               text CHECK (length(interpreter) <= 300),
  interviewer_id            uuid NOT NULL REFERENCES users(id),
  narrative                 text NOT NULL CHECK (length(narrative) <= 200000),
  consent_use_in_proceedings boolean NOT NULL DEFAULT false,
  consent_share_with_accountability_bodies boolean NOT NULL DEFAULT false,
  consent_restrictions      text CHECK (length(consent_restrictions) <= 5000),
  created_by                uuid NOT NULL REFERENCES users(id),
  retracted_at              timestamptz,
  retracted_by              uuid REFERENCES users(id),
  retraction_reason         text,
  version                   integer NOT NULL DEFAULT 1,
  created_at                timestamptz NOT NULL DEFAULT now(),
  updated_at                timestamptz NOT NULL DEFAULT now(),
  UNIQUE (case_id, id),
  -- The witness belongs to the statement's case.
  FOREIGN KEY (case_id, witness_id) REFERENCES witnesses (case_id, id),
  CHECK ((retracted_at IS NULL) = (retraction_reason IS NULL))
);
CREATE INDEX statements_case_created_idx ON statements (case_id, created_at DESC, id DESC);
CREATE INDEX statements_witness_idx ON statements (witness_id);

-- Which incidents a statement speaks of; both of the same case.
CREATE TABLE statement_incidents (
  statement_id  uuid NOT NULL,
  incident_id   uuid NOT NULL,
  case_id       uuid NOT NULL,
  PRIMARY KEY (statement_id, incident_id),
  FOREIGN KEY (case_id, statement_id) REFERENCES statements (case_id, id),
  FOREIGN KEY (case_id, incident_id) REFERENCES incidents (case_id, id)
);
CREATE INDEX statement_incidents_incident_idx ON statement_incidents (incident_id);
