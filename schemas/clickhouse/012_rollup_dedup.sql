-- A retried insert (same deduplication token) whose first attempt reached `events` but not
-- the rollups (the history process stopped between the two) must still reach them, once:
-- the writer sets deduplicate_blocks_in_dependent_materialized_views, so the views receive
-- the block even when `events` skips it, and each rollup keeps its own deduplication window
-- to skip a block it already has. Without both, the rollups came up 300 events short after
-- a kill -9 of `up` (tests/faults/test_kill.py), and reports with them.
ALTER TABLE events_hourly MODIFY SETTING non_replicated_deduplication_window = 10000;
ALTER TABLE events_daily MODIFY SETTING non_replicated_deduplication_window = 10000;
