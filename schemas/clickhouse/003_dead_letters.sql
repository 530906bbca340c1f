-- Rejected input with its original bytes, where it came from and why it was refused.
CREATE TABLE IF NOT EXISTS dead_letters
(
    topic        LowCardinality(String),
    partition    UInt32,
    offset       UInt64,
    key          String,
    value        String,
    value_size   UInt32,
    kind         LowCardinality(String),
    reason       String,
    received_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (topic, partition, offset, kind)
SETTINGS non_replicated_deduplication_window = 10000;
