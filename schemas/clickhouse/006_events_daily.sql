-- Daily rollup for the canned reports (date ranges, year over year): a few rows per section
-- and day, so a report over 100M events reads tens of thousands of rows. Readers sum() over
-- it (no FINAL needed: partial sums of unmerged parts add up to the same totals).
CREATE TABLE IF NOT EXISTS events_daily
(
    day         Date,
    section_id  LowCardinality(String),
    country     LowCardinality(String),
    event_type  LowCardinality(String),
    late        UInt8,
    events      UInt64,
    persons     UInt64
)
ENGINE = SummingMergeTree((events, persons))
PARTITION BY toYear(day)
ORDER BY (event_type, country, section_id, day, late);

CREATE MATERIALIZED VIEW IF NOT EXISTS events_daily_mv TO events_daily AS
SELECT
    toDate(occurred_at) AS day,
    section_id,
    country,
    event_type,
    late,
    count() AS events,
    sum(persons) AS persons
FROM events
GROUP BY day, section_id, country, event_type, late;

-- Backfill what was written before this migration (it runs once, before any worker writes).
INSERT INTO events_daily
SELECT toDate(occurred_at), section_id, country, event_type, late, count(), sum(persons)
FROM events FINAL
WHERE (SELECT count() FROM events_daily) = 0
GROUP BY toDate(occurred_at), section_id, country, event_type, late;
