-- A bounding box is searched as two ranges (latitude, longitude) instead of a point inside a box.
-- PostgreSQL estimates ranges from the columns' statistics but has none for `point <@ box` (a
-- fixed 0.5 %): it chose the GiST index and sorted every match even for a box holding a tenth of
-- a case (13,000 rows for 51 shown, 40 ms). With real estimates it walks the newest-first index
-- for a large box and this one for a small box.
DROP INDEX incidents_location_idx;
CREATE INDEX incidents_case_location_idx ON incidents (case_id, location_lat, location_lon);
