-- One row per accepted event. ReplacingMergeTree collapses a retried insert of the same event
-- (same sorting key); readers that need exact counts use FINAL or the hourly rollup.
CREATE TABLE IF NOT EXISTS events
(
    event_id       UUID,
    event_type     LowCardinality(String),
    schema_version UInt8,
    occurred_at    DateTime64(3, 'UTC'),
    section_id     LowCardinality(String),
    country        LowCardinality(String),
    reporter       LowCardinality(String),
    persons        UInt32,
    outcome        LowCardinality(String),
    indicator_id   String,
    level          LowCardinality(String),
    state          LowCardinality(String),
    late           UInt8,
    payload        String CODEC(ZSTD(3)),
    topic          LowCardinality(String),
    partition      UInt32,
    offset         UInt64,
    ingested_at    DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (section_id, event_type, occurred_at, event_id)
SETTINGS non_replicated_deduplication_window = 10000;
