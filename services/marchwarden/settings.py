"""Frozen runtime configuration, read from MARCHWARDEN_* environment variables and CLI flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class TopicNames(BaseModel):
    """Kafka topic names; the defaults are the public contract in docs/contracts.md."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    crossings: str = "border.crossings"
    turnbacks: str = "border.turnbacks"
    indicators: str = "intel.indicators"
    alerts: str = "ops.alerts"
    commands: str = "ops.commands"
    deadletter: str = "ops.deadletter"
    # Internal: commands re-keyed by section so the worker owning a section applies them.
    routed_commands: str = "marchwarden.commands-by-section"
    # Internal: indicators copied to the partitions of the other sections they name.
    routed_indicators: str = "marchwarden.indicators-by-section"
    # Internal: every alert state in full (TLP not applied), for the workers' own alert
    # board; give only the workers access. Readers get ops.alerts and ops.alerts.<ORG>.
    alerts_full: str = "marchwarden.alerts-full"

    def ingest(self) -> tuple[str, str, str]:
        return (self.crossings, self.turnbacks, self.indicators)

    def internal_inputs(self) -> tuple[str, str]:
        """Topics the picture workers re-key for each other (by section)."""
        return (self.routed_commands, self.routed_indicators)

    def for_event(self, event_type: str) -> str | None:
        """The topic an event type is published on (docs/contracts.md), None if it has none."""
        # Sensor heartbeats travel with the attempts their sensors report.
        if event_type in ("crossing_attempt", "sensor_heartbeat"):
            return self.crossings
        if event_type == "turn_back":
            return self.turnbacks
        if event_type == "indicator":
            return self.indicators
        return None


class RuleSettings(BaseModel):
    """Thresholds of the alert rules; every number an operator may want to tune."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Defaults for sections whose reference data gives no floor or factor of their own.
    surge_min_attempts: int = Field(20, ge=1)
    surge_min_persons: int = Field(50, ge=1)
    surge_baseline_factor: float = Field(3.0, gt=0)
    surge_high_multiple: float = Field(2.0, gt=1)
    surge_critical_multiple: float = Field(4.0, gt=1)
    surge_cooldown_s: float = Field(3600.0, ge=0)
    allowed_lateness_s: float = Field(86400.0, ge=0)
    baseline_days: int = Field(28, ge=1)
    # Heavy trucks with trailers on main roads, plus loading at the park. Road distance is
    # (access leg + distance along the artery) x road_factor: 1.3 is a common detour factor.
    road_speed_kmh: float = Field(50.0, gt=0)
    loading_minutes: float = Field(30.0, ge=0)
    road_factor: float = Field(1.3, ge=1.0)
    critical_requirement_multiple: float = Field(2.0, ge=1)
    # After an operator resolves an alert whose condition still holds, a new alert is raised
    # if the condition worsens, or still holds after this long (section clock).
    rearm_after_s: float = Field(7200.0, gt=0)
    # The longest silence an operator may set in one command.
    silence_max_s: float = Field(72 * 3600.0, gt=0)
    # Scales every section's expected cadence (reference data) for silence detection: drills
    # and tests shorten it; 1 in operation.
    silence_cadence_scale: float = Field(1.0, gt=0)


class AnalystLimits(BaseModel):
    """Ceilings on one analyst query (history sql, reports); a caller may lower them, not raise.

    Analysts share the machine with ingest and the alert rules: a query runs on connections
    of its own, at the lowest CPU priority, on `max_threads` cores at most, and at most
    `max_concurrent` run at once.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_execution_time_s: float = Field(30.0, gt=0)
    max_memory_usage_bytes: int = Field(1024**3, ge=1024**2)
    max_rows_to_read: int = Field(2_000_000_000, ge=1)
    max_result_rows: int = Field(100_000, ge=1)
    max_result_bytes: int = Field(64 * 1024**2, ge=1024)
    max_threads: int = Field(1, ge=1)
    max_concurrent: int = Field(2, ge=1)
    # Linux nice of the threads running analyst queries (ClickHouse os_thread_priority).
    nice: int = Field(19, ge=0, le=19)


class HealthBounds(BaseModel):
    """How long each part may lag or stall before /health says so (seconds)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Oldest accepted row not yet in history (a flush normally takes well under a second).
    history_lag_s: float = Field(30.0, gt=0)
    # Input waiting on the broker while nothing has been processed for this long.
    consumer_stall_s: float = Field(30.0, gt=0)
    # The rule timer runs every second; one run (or the wait for one) longer than this.
    rule_timer_s: float = Field(10.0, gt=0)


class AccessSettings(BaseModel):
    """Who may call the worker, and how long what they prove stays valid."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # The token file; None means data_dir/tokens.json.
    tokens_file: Path | None = None
    # Signs session cookies; shared by the workers behind one address. None: drawn at start.
    session_key: SecretStr | None = None
    session_ttl_s: float = Field(8 * 3600.0, gt=0, le=7 * 86400)
    # Set when the worker is served over HTTPS (the cookie then needs it).
    cookie_secure: bool = False
    # Origins besides the worker's own that may send state-changing requests, comma-separated.
    allowed_origins: str = ""
    # A command's issued_at must lie within this many seconds of the receiving worker's clock.
    command_skew_s: float = Field(120.0, gt=0, le=3600)


class BrokerAuth(BaseModel):
    """How the worker authenticates to Kafka (SASL/SCRAM, optionally over TLS)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] = "SCRAM-SHA-512"
    username: str | None = None
    password: SecretStr | None = None
    # CA certificate that signed the brokers' certificates (for SASL_SSL / SSL).
    ca_file: Path | None = None


class Settings(BaseSettings):
    """Everything Marchwarden reads from its environment (prefix MARCHWARDEN_, nested with __)."""

    model_config = SettingsConfigDict(
        env_prefix="MARCHWARDEN_", env_nested_delimiter="__", frozen=True, extra="ignore"
    )

    app_id: str = "marchwarden"
    # None means the embedded tansu broker started by `marchwarden up`.
    broker_url: str | None = None
    # None means embedded chDB under data_dir/history.
    clickhouse_dsn: str | None = None
    clickhouse_user: str | None = None
    clickhouse_password: SecretStr | None = None
    # The analysts' ClickHouse user (SELECT on the analyst views only); None: clickhouse_user.
    clickhouse_reader_user: str | None = None
    clickhouse_reader_password: SecretStr | None = None
    # The history gateway's two lanes (`up` draws both at start for its own child process).
    history_read_secret: SecretStr | None = None
    history_write_secret: SecretStr | None = None
    data_dir: Path = Path(".marchwarden")
    # Embedded chDB runs in a child process (keeps the worker small); false: in the worker.
    history_process: bool = True
    tansu_bin: Path | None = None
    # The embedded broker's port (tansu, or the durable Kafka node, whose controller takes
    # the next port).
    tansu_port: int = Field(9092, ge=1, le=65535)
    # The embedded broker keeps its log on disk (an Apache Kafka node under data_dir/kafka)
    # instead of in memory (tansu): acknowledged events survive kill -9. Needs Java and Maven.
    durable_broker: bool = False
    web_host: str = "127.0.0.1"
    web_port: int = Field(6066, ge=1, le=65535)
    partitions: int = Field(4, ge=1)
    replication_factor: int = Field(1, ge=1)
    # Faust's exactly_once is not offered (docs/guarantees.md); Marchwarden's own is issue 13.
    processing_guarantee: Literal["at_least_once"] = "at_least_once"
    # tansu holds a group join for half the session timeout, so the embedded default uses a
    # short one (fast start-up); Apache Kafka refuses sessions under 6 s by default.
    group_session_timeout_s: float | None = Field(None, gt=0)
    group_heartbeat_interval_s: float | None = Field(None, gt=0)
    ingest_poll_ms: int = Field(20, ge=1)
    # Event-time alignment of input partitions during backlog (see ingest/alignment.py).
    align_slack_s: float = Field(600.0, ge=0)
    align_max_wait_s: float = Field(5.0, gt=0)
    sink_max_rows: int = Field(20000, ge=1)
    sink_max_interval_s: float = Field(0.5, gt=0)
    max_message_bytes: int = Field(64 * 1024, ge=1)
    # A dead letter keeps an oversized value as this prefix (with its size and SHA-256), and
    # no letter is larger than dead_letter_max_bytes: the broker refuses messages over 1 MiB.
    dead_letter_prefix_bytes: int = Field(4096, ge=0)
    dead_letter_max_bytes: int = Field(512 * 1024, ge=16 * 1024, le=1_000_000)
    # Reports dated further ahead of the wall clock are dead-lettered as `future`.
    future_skew_s: float = Field(120.0, ge=0)
    # ClickHouse refuses an insert touching more partitions than max_partitions_per_insert_block
    # (100 by default); the events table has one partition per month.
    history_max_partitions_per_insert: int = Field(100, ge=1)
    # Rows accepted but not yet written to history; past this, ingest waits for the writer.
    sink_max_pending_rows: int = Field(200_000, ge=1)
    # After SIGTERM (or a crash), everything still running is killed after this long.
    shutdown_deadline_s: float = Field(8.0, gt=0)
    # The watch floor (screen/): alert stream heartbeat and bounds of its HTTP inputs.
    stream_heartbeat_s: float = Field(15.0, gt=0)
    stream_max_clients: int = Field(64, ge=1)
    events_max_batch: int = Field(500, ge=1)
    events_max_body_bytes: int = Field(2 * 1024 * 1024, ge=1024)
    topics: TopicNames = TopicNames()
    rules: RuleSettings = RuleSettings()
    analyst: AnalystLimits = AnalystLimits()
    health: HealthBounds = HealthBounds()
    access: AccessSettings = AccessSettings()
    broker_auth: BrokerAuth = BrokerAuth()
    # Token records (JSON list of {sha256, role, organisation, name}) besides the token file.
    tokens: str | None = None
    # The caller's own bearer token, for the command-line clients (history sql, replay, …).
    token: SecretStr | None = None
    log_level: str = "INFO"

    @field_validator("processing_guarantee", mode="before")
    @classmethod
    def _no_faust_exactly_once(cls, value: Any) -> Any:
        if value == "exactly_once":
            raise ValueError(
                "exactly_once is not offered: Faust's loses and duplicates records after a crash "
                "(docs/guarantees.md); use at_least_once"
            )
        return value

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url is None

    @property
    def embedded_clickhouse(self) -> bool:
        return self.clickhouse_dsn is None

    @property
    def session_timeout_s(self) -> float:
        if self.group_session_timeout_s is not None:
            return self.group_session_timeout_s
        return 2.0 if self.embedded_broker else 10.0

    @property
    def heartbeat_interval_s(self) -> float:
        if self.group_heartbeat_interval_s is not None:
            return self.group_heartbeat_interval_s
        return min(1.0, self.session_timeout_s / 4)

    @property
    def bootstrap_servers(self) -> str:
        """host:port list for aiokafka, from kafka://host:port[;host:port] or the embedded port."""
        if self.broker_url is None:
            return f"127.0.0.1:{self.tansu_port}"
        url = self.broker_url.removeprefix("kafka://")
        return url.replace(";", ",")

    @property
    def faust_broker(self) -> str:
        return "kafka://" + self.bootstrap_servers.replace(",", ";")

    @property
    def tokens_path(self) -> Path:
        return self.access.tokens_file or self.data_dir / "tokens.json"

    @property
    def history_dsn(self) -> str:
        if self.clickhouse_dsn is None:
            return f"chdb://{(self.data_dir / 'history').resolve()}"
        return self.clickhouse_dsn

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with CLI flags applied; None values mean 'flag not given'."""
        given = {k: v for k, v in overrides.items() if v is not None}
        if not given:
            return self
        # Validated like the environment (model_copy would not check a flag's value).
        return type(self).model_validate({**self.model_dump(), **given})
