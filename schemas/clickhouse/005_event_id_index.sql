-- A bloom-filter skip index on event_id: replays older than the live deduplication window
-- are checked against history by id before they are written again.
ALTER TABLE events ADD INDEX IF NOT EXISTS event_id_bloom event_id TYPE bloom_filter(0.01) GRANULARITY 4;
