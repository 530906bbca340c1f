-- The audit trail of operator commands: every decoded command (acknowledge, resolve, silence,
-- unsilence, stand_down) with its outcome, and the original message. Silences in force are
-- rebuilt from it on start.
CREATE TABLE IF NOT EXISTS commands
(
    command_id   String,
    command      LowCardinality(String),
    alert_id     String,
    section_id   LowCardinality(String),
    rule         LowCardinality(String),
    until        Nullable(DateTime64(3, 'UTC')),
    operator_id  String,
    note         String,
    issued_at    DateTime64(3, 'UTC'),
    outcome      LowCardinality(String),
    detail       String,
    payload      String CODEC(ZSTD(3)),
    recorded_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (section_id, command_id)
SETTINGS non_replicated_deduplication_window = 10000;
