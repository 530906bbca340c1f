-- TLP markings travel with history. Indicator events keep their marking and, for AMBER, the
-- organisations they are shared with (computed from the payload, so old rows get them too).
ALTER TABLE events ADD COLUMN IF NOT EXISTS tlp LowCardinality(String) DEFAULT JSONExtractString(payload, 'tlp');
ALTER TABLE events ADD COLUMN IF NOT EXISTS share_with Array(String) DEFAULT JSONExtract(payload, 'share_with', 'Array(String)');

-- Alert states keep the full state in `payload` (internal: rebuilds read it) and the copies
-- readers may see: `shared_payload` for every organisation, `org_payloads` for organisations
-- that see more (the originators of TLP:RED/AMBER sources). Rows written before this
-- migration have no shared copy: analysts see an empty payload for them.
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS shared_payload String DEFAULT '' CODEC(ZSTD(3));
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS org_payloads Map(LowCardinality(String), String) CODEC(ZSTD(3));

-- The audit trail: one record per alert state, i.e. per command applied and per automatic
-- transition: who (a rule or an operator), their organisation, when, from -> to, why, and the
-- command id. Fed by a materialized view from the alert states as they are written.
CREATE TABLE IF NOT EXISTS alert_audit
(
    alert_id     String,
    version      UInt32,
    section_id   LowCardinality(String),
    rule         LowCardinality(String),
    at           DateTime64(3, 'UTC'),
    actor        String,
    actor_kind   LowCardinality(String),
    organisation LowCardinality(String),
    from_status  LowCardinality(String),
    to_status    LowCardinality(String),
    from_level   LowCardinality(String),
    to_level     LowCardinality(String),
    reason       String,
    command_id   String,
    note         String,
    recorded_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (alert_id, version);

CREATE MATERIALIZED VIEW IF NOT EXISTS alert_audit_mv TO alert_audit AS
SELECT
    alert_id,
    version,
    section_id,
    rule,
    updated_at AS at,
    JSONExtractString(payload, 'changed_by') AS actor,
    multiIf(actor = '', 'unknown', startsWith(actor, 'rule:'), 'rule', 'operator') AS actor_kind,
    JSONExtractString(payload, 'changed_by_org') AS organisation,
    JSONExtractString(payload, 'previous_status') AS from_status,
    status AS to_status,
    JSONExtractString(payload, 'previous_level') AS from_level,
    level AS to_level,
    JSONExtractString(payload, 'reason') AS reason,
    JSONExtractString(payload, 'command_id') AS command_id,
    if(command_id != '', JSONExtractString(payload, 'operator_note'), '') AS note,
    recorded_at
FROM alerts;

-- Backfill the states written before this migration (it runs before any worker writes).
INSERT INTO alert_audit
SELECT alert_id, version, section_id, rule, updated_at,
       JSONExtractString(payload, 'changed_by'),
       multiIf(JSONExtractString(payload, 'changed_by') = '', 'unknown',
               startsWith(JSONExtractString(payload, 'changed_by'), 'rule:'), 'rule', 'operator'),
       JSONExtractString(payload, 'changed_by_org'), JSONExtractString(payload, 'previous_status'),
       status, JSONExtractString(payload, 'previous_level'), level,
       JSONExtractString(payload, 'reason'), JSONExtractString(payload, 'command_id'), '', recorded_at
FROM alerts
WHERE (SELECT count() FROM alert_audit) = 0;
