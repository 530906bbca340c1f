"""History: ClickHouse storage of every accepted event, alert state and dead letter."""
