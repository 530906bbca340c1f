-- Analysts read the operator-command audit trail (010_commands) of the sections their
-- organisation covers; the regional centre reads all of it (marchwarden/access/identity.py).

-- LT-VSAT
CREATE VIEW IF NOT EXISTS analyst_lt_vsat.commands
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT command_id, command, alert_id, section_id, rule, until, operator_id, note, issued_at,
       outcome, detail, recorded_at
FROM commands
WHERE startsWith(section_id, 'LT-');
-- LV-VRS
CREATE VIEW IF NOT EXISTS analyst_lv_vrs.commands
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT command_id, command, alert_id, section_id, rule, until, operator_id, note, issued_at,
       outcome, detail, recorded_at
FROM commands
WHERE startsWith(section_id, 'LV-');
-- PL-SG
CREATE VIEW IF NOT EXISTS analyst_pl_sg.commands
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT command_id, command, alert_id, section_id, rule, until, operator_id, note, issued_at,
       outcome, detail, recorded_at
FROM commands
WHERE startsWith(section_id, 'PL-');
-- EE-PPA
CREATE VIEW IF NOT EXISTS analyst_ee_ppa.commands
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT command_id, command, alert_id, section_id, rule, until, operator_id, note, issued_at,
       outcome, detail, recorded_at
FROM commands
WHERE startsWith(section_id, 'EE-');
-- EU-RCC
CREATE VIEW IF NOT EXISTS analyst_eu_rcc.commands
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT command_id, command, alert_id, section_id, rule, until, operator_id, note, issued_at,
       outcome, detail, recorded_at
FROM commands;
