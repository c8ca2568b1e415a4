-- Exports no longer copy evidence into a zip of their own. A finished export keeps its zip's
-- structure and small files as one blob (`storage_key`) and, in `segments`, the ordered list of
-- blob ranges that make the whole zip: [{blob (sha256), start, length}], the evidence blobs
-- interleaved with ranges of that skeleton. A download streams them in order. An export finished
-- before this migration has no segments: its `storage_key` blob is the whole zip.
ALTER TABLE exports ADD COLUMN segments jsonb CHECK (segments IS NULL OR jsonb_typeof(segments) = 'array');
