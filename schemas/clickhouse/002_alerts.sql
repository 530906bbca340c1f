-- One row per alert state (every raise, escalation, acknowledgement and resolution).
CREATE TABLE IF NOT EXISTS alerts
(
    alert_id     String,
    version      UInt32,
    rule         LowCardinality(String),
    level        LowCardinality(String),
    status       LowCardinality(String),
    section_id   LowCardinality(String),
    raised_at    DateTime64(3, 'UTC'),
    updated_at   DateTime64(3, 'UTC'),
    payload      String CODEC(ZSTD(3)),
    recorded_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (alert_id, version)
SETTINGS non_replicated_deduplication_window = 10000;
