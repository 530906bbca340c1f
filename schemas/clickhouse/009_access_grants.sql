-- requires: access-control
-- Grants for a ClickHouse server with SQL access control (production; chDB has no users, so
-- `migrate` skips this file there). Run `migrate` as an administrator. The users themselves
-- are created with their passwords from the environment (infra/clickhouse/initdb/), never
-- here: marchwarden_writer (the workers' writes and rebuilds) and marchwarden_reader (analyst
-- queries only: SELECT on the analyst views, nothing else).
CREATE ROLE IF NOT EXISTS marchwarden_writer_role;
CREATE ROLE IF NOT EXISTS marchwarden_analyst_role;
GRANT SELECT, INSERT ON default.* TO marchwarden_writer_role;
GRANT SELECT ON analyst_lt_vsat.* TO marchwarden_analyst_role;
GRANT SELECT ON analyst_lv_vrs.* TO marchwarden_analyst_role;
GRANT SELECT ON analyst_pl_sg.* TO marchwarden_analyst_role;
GRANT SELECT ON analyst_ee_ppa.* TO marchwarden_analyst_role;
GRANT SELECT ON analyst_eu_rcc.* TO marchwarden_analyst_role;
GRANT marchwarden_writer_role TO marchwarden_writer;
GRANT marchwarden_analyst_role TO marchwarden_reader;
SET DEFAULT ROLE marchwarden_writer_role TO marchwarden_writer;
SET DEFAULT ROLE marchwarden_analyst_role TO marchwarden_reader;
