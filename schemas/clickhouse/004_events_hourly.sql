-- Hourly rollup per section and event type, fed by a materialized view, for fast reports.
-- Retried inserts carry a deduplication token; 012 makes it reach this view once.
CREATE TABLE IF NOT EXISTS events_hourly
(
    hour        DateTime('UTC'),
    section_id  LowCardinality(String),
    country     LowCardinality(String),
    event_type  LowCardinality(String),
    late        UInt8,
    events      UInt64,
    persons     UInt64
)
ENGINE = SummingMergeTree((events, persons))
PARTITION BY toYear(hour)
ORDER BY (event_type, country, section_id, hour, late);

CREATE MATERIALIZED VIEW IF NOT EXISTS events_hourly_mv TO events_hourly AS
SELECT
    toStartOfHour(occurred_at) AS hour,
    section_id,
    country,
    event_type,
    late,
    count() AS events,
    sum(persons) AS persons
FROM events
GROUP BY hour, section_id, country, event_type, late;
