#!/bin/bash
# First start of the ClickHouse container: the two users Marchwarden's workers log in as, with
# passwords from the environment. Their grants come from `marchwarden migrate` (migration 009).
# The reader's limits are constraints: a query cannot raise them even with SETTINGS. It is
# read-only by its grants (SELECT on the analyst views only); the analysts' lane also sets
# readonly=1 on each of its sessions, which a constraint on readonly would refuse.
set -euo pipefail
clickhouse client --user "${CLICKHOUSE_USER}" --password "${CLICKHOUSE_PASSWORD}" --multiquery <<SQL
CREATE USER IF NOT EXISTS marchwarden_writer
    IDENTIFIED WITH sha256_password BY '${CLICKHOUSE_WRITER_PASSWORD}';
CREATE USER IF NOT EXISTS marchwarden_reader
    IDENTIFIED WITH sha256_password BY '${CLICKHOUSE_READER_PASSWORD}'
    SETTINGS max_execution_time = 30 MAX 30,
             max_result_rows = 100000 MAX 100000,
             max_rows_to_read = 2000000000 MAX 2000000000,
             max_memory_usage = 1073741824 MAX 1073741824;
SQL
