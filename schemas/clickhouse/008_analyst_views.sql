-- Analysts read history through views that apply their organisation: one database per
-- organisation (analyst_<org>), holding views with the same names as the tables. An analyst's
-- query runs with that database as its current one, so `SELECT … FROM events` reads the view,
-- and the SQL allow-list refuses every other database (marchwarden/access/sqlcheck.py).
-- TLP: indicator events marked AMBER or RED are visible only to their originator (the
-- reporter) and, for AMBER, the organisations in share_with; alert states are read from the
-- organisation's copy (org_payloads) or the shared copy; dead letters without their bytes.
-- Generated for the organisations in marchwarden/access/identity.py; a new organisation
-- needs a new migration (a test checks they match). The views run with their definer's
-- rights (SQL SECURITY DEFINER), so the analysts' ClickHouse user needs SELECT on these
-- databases only, never on the tables (migration 009 grants that on a server).

-- LT-VSAT
CREATE DATABASE IF NOT EXISTS analyst_lt_vsat;
CREATE VIEW IF NOT EXISTS analyst_lt_vsat.events
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT event_id, event_type, schema_version, occurred_at, section_id, country, reporter, persons,
       outcome, indicator_id, level, state, late, payload, topic, partition, offset, ingested_at, tlp
FROM events
WHERE event_type != 'indicator' OR tlp IN ('clear', 'green') OR reporter = 'LT-VSAT'
   OR (tlp = 'amber' AND has(share_with, 'LT-VSAT'));
CREATE VIEW IF NOT EXISTS analyst_lt_vsat.events_hourly
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT hour, section_id, country, event_type, late, events, persons FROM events_hourly
WHERE event_type != 'indicator';
CREATE VIEW IF NOT EXISTS analyst_lt_vsat.events_daily
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT day, section_id, country, event_type, late, events, persons FROM events_daily
WHERE event_type != 'indicator';
CREATE VIEW IF NOT EXISTS analyst_lt_vsat.alerts
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT alert_id, version, rule, level, status, section_id, raised_at, updated_at,
       if(mapContains(org_payloads, 'LT-VSAT'), org_payloads['LT-VSAT'], shared_payload) AS payload,
       recorded_at
FROM alerts;
CREATE VIEW IF NOT EXISTS analyst_lt_vsat.alert_audit
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT alert_id, version, section_id, rule, updated_at AS at,
       JSONExtractString(payload, 'changed_by') AS actor,
       multiIf(actor = '', 'unknown', startsWith(actor, 'rule:'), 'rule', 'operator') AS actor_kind,
       JSONExtractString(payload, 'changed_by_org') AS organisation,
       JSONExtractString(payload, 'previous_status') AS from_status, status AS to_status,
       JSONExtractString(payload, 'previous_level') AS from_level, level AS to_level,
       JSONExtractString(payload, 'reason') AS reason,
       JSONExtractString(payload, 'command_id') AS command_id,
       if(command_id != '', JSONExtractString(payload, 'operator_note'), '') AS note, recorded_at
FROM analyst_lt_vsat.alerts;
CREATE VIEW IF NOT EXISTS analyst_lt_vsat.dead_letters
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT topic, partition, offset, value_size, kind, reason, received_at FROM dead_letters;

-- LV-VRS
CREATE DATABASE IF NOT EXISTS analyst_lv_vrs;
CREATE VIEW IF NOT EXISTS analyst_lv_vrs.events
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT event_id, event_type, schema_version, occurred_at, section_id, country, reporter, persons,
       outcome, indicator_id, level, state, late, payload, topic, partition, offset, ingested_at, tlp
FROM events
WHERE event_type != 'indicator' OR tlp IN ('clear', 'green') OR reporter = 'LV-VRS'
   OR (tlp = 'amber' AND has(share_with, 'LV-VRS'));
CREATE VIEW IF NOT EXISTS analyst_lv_vrs.events_hourly
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT hour, section_id, country, event_type, late, events, persons FROM events_hourly
WHERE event_type != 'indicator';
CREATE VIEW IF NOT EXISTS analyst_lv_vrs.events_daily
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT day, section_id, country, event_type, late, events, persons FROM events_daily
WHERE event_type != 'indicator';
CREATE VIEW IF NOT EXISTS analyst_lv_vrs.alerts
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT alert_id, version, rule, level, status, section_id, raised_at, updated_at,
       if(mapContains(org_payloads, 'LV-VRS'), org_payloads['LV-VRS'], shared_payload) AS payload,
       recorded_at
FROM alerts;
CREATE VIEW IF NOT EXISTS analyst_lv_vrs.alert_audit
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT alert_id, version, section_id, rule, updated_at AS at,
       JSONExtractString(payload, 'changed_by') AS actor,
       multiIf(actor = '', 'unknown', startsWith(actor, 'rule:'), 'rule', 'operator') AS actor_kind,
       JSONExtractString(payload, 'changed_by_org') AS organisation,
       JSONExtractString(payload, 'previous_status') AS from_status, status AS to_status,
       JSONExtractString(payload, 'previous_level') AS from_level, level AS to_level,
       JSONExtractString(payload, 'reason') AS reason,
       JSONExtractString(payload, 'command_id') AS command_id,
       if(command_id != '', JSONExtractString(payload, 'operator_note'), '') AS note, recorded_at
FROM analyst_lv_vrs.alerts;
CREATE VIEW IF NOT EXISTS analyst_lv_vrs.dead_letters
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT topic, partition, offset, value_size, kind, reason, received_at FROM dead_letters;

-- PL-SG
CREATE DATABASE IF NOT EXISTS analyst_pl_sg;
CREATE VIEW IF NOT EXISTS analyst_pl_sg.events
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT event_id, event_type, schema_version, occurred_at, section_id, country, reporter, persons,
       outcome, indicator_id, level, state, late, payload, topic, partition, offset, ingested_at, tlp
FROM events
WHERE event_type != 'indicator' OR tlp IN ('clear', 'green') OR reporter = 'PL-SG'
   OR (tlp = 'amber' AND has(share_with, 'PL-SG'));
CREATE VIEW IF NOT EXISTS analyst_pl_sg.events_hourly
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT hour, section_id, country, event_type, late, events, persons FROM events_hourly
WHERE event_type != 'indicator';
CREATE VIEW IF NOT EXISTS analyst_pl_sg.events_daily
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT day, section_id, country, event_type, late, events, persons FROM events_daily
WHERE event_type != 'indicator';
CREATE VIEW IF NOT EXISTS analyst_pl_sg.alerts
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT alert_id, version, rule, level, status, section_id, raised_at, updated_at,
       if(mapContains(org_payloads, 'PL-SG'), org_payloads['PL-SG'], shared_payload) AS payload,
       recorded_at
FROM alerts;
CREATE VIEW IF NOT EXISTS analyst_pl_sg.alert_audit
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT alert_id, version, section_id, rule, updated_at AS at,
       JSONExtractString(payload, 'changed_by') AS actor,
       multiIf(actor = '', 'unknown', startsWith(actor, 'rule:'), 'rule', 'operator') AS actor_kind,
       JSONExtractString(payload, 'changed_by_org') AS organisation,
       JSONExtractString(payload, 'previous_status') AS from_status, status AS to_status,
       JSONExtractString(payload, 'previous_level') AS from_level, level AS to_level,
       JSONExtractString(payload, 'reason') AS reason,
       JSONExtractString(payload, 'command_id') AS command_id,
       if(command_id != '', JSONExtractString(payload, 'operator_note'), '') AS note, recorded_at
FROM analyst_pl_sg.alerts;
CREATE VIEW IF NOT EXISTS analyst_pl_sg.dead_letters
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT topic, partition, offset, value_size, kind, reason, received_at FROM dead_letters;

-- EE-PPA
CREATE DATABASE IF NOT EXISTS analyst_ee_ppa;
CREATE VIEW IF NOT EXISTS analyst_ee_ppa.events
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT event_id, event_type, schema_version, occurred_at, section_id, country, reporter, persons,
       outcome, indicator_id, level, state, late, payload, topic, partition, offset, ingested_at, tlp
FROM events
WHERE event_type != 'indicator' OR tlp IN ('clear', 'green') OR reporter = 'EE-PPA'
   OR (tlp = 'amber' AND has(share_with, 'EE-PPA'));
CREATE VIEW IF NOT EXISTS analyst_ee_ppa.events_hourly
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT hour, section_id, country, event_type, late, events, persons FROM events_hourly
WHERE event_type != 'indicator';
CREATE VIEW IF NOT EXISTS analyst_ee_ppa.events_daily
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT day, section_id, country, event_type, late, events, persons FROM events_daily
WHERE event_type != 'indicator';
CREATE VIEW IF NOT EXISTS analyst_ee_ppa.alerts
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT alert_id, version, rule, level, status, section_id, raised_at, updated_at,
       if(mapContains(org_payloads, 'EE-PPA'), org_payloads['EE-PPA'], shared_payload) AS payload,
       recorded_at
FROM alerts;
CREATE VIEW IF NOT EXISTS analyst_ee_ppa.alert_audit
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT alert_id, version, section_id, rule, updated_at AS at,
       JSONExtractString(payload, 'changed_by') AS actor,
       multiIf(actor = '', 'unknown', startsWith(actor, 'rule:'), 'rule', 'operator') AS actor_kind,
       JSONExtractString(payload, 'changed_by_org') AS organisation,
       JSONExtractString(payload, 'previous_status') AS from_status, status AS to_status,
       JSONExtractString(payload, 'previous_level') AS from_level, level AS to_level,
       JSONExtractString(payload, 'reason') AS reason,
       JSONExtractString(payload, 'command_id') AS command_id,
       if(command_id != '', JSONExtractString(payload, 'operator_note'), '') AS note, recorded_at
FROM analyst_ee_ppa.alerts;
CREATE VIEW IF NOT EXISTS analyst_ee_ppa.dead_letters
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT topic, partition, offset, value_size, kind, reason, received_at FROM dead_letters;

-- EU-RCC
CREATE DATABASE IF NOT EXISTS analyst_eu_rcc;
CREATE VIEW IF NOT EXISTS analyst_eu_rcc.events
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT event_id, event_type, schema_version, occurred_at, section_id, country, reporter, persons,
       outcome, indicator_id, level, state, late, payload, topic, partition, offset, ingested_at, tlp
FROM events
WHERE event_type != 'indicator' OR tlp IN ('clear', 'green') OR reporter = 'EU-RCC'
   OR (tlp = 'amber' AND has(share_with, 'EU-RCC'));
CREATE VIEW IF NOT EXISTS analyst_eu_rcc.events_hourly
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT hour, section_id, country, event_type, late, events, persons FROM events_hourly
WHERE event_type != 'indicator';
CREATE VIEW IF NOT EXISTS analyst_eu_rcc.events_daily
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT day, section_id, country, event_type, late, events, persons FROM events_daily
WHERE event_type != 'indicator';
CREATE VIEW IF NOT EXISTS analyst_eu_rcc.alerts
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT alert_id, version, rule, level, status, section_id, raised_at, updated_at,
       if(mapContains(org_payloads, 'EU-RCC'), org_payloads['EU-RCC'], shared_payload) AS payload,
       recorded_at
FROM alerts;
CREATE VIEW IF NOT EXISTS analyst_eu_rcc.alert_audit
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT alert_id, version, section_id, rule, updated_at AS at,
       JSONExtractString(payload, 'changed_by') AS actor,
       multiIf(actor = '', 'unknown', startsWith(actor, 'rule:'), 'rule', 'operator') AS actor_kind,
       JSONExtractString(payload, 'changed_by_org') AS organisation,
       JSONExtractString(payload, 'previous_status') AS from_status, status AS to_status,
       JSONExtractString(payload, 'previous_level') AS from_level, level AS to_level,
       JSONExtractString(payload, 'reason') AS reason,
       JSONExtractString(payload, 'command_id') AS command_id,
       if(command_id != '', JSONExtractString(payload, 'operator_note'), '') AS note, recorded_at
FROM analyst_eu_rcc.alerts;
CREATE VIEW IF NOT EXISTS analyst_eu_rcc.dead_letters
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT topic, partition, offset, value_size, kind, reason, received_at FROM dead_letters;
