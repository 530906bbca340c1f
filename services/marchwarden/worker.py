"""Builds the Faust app for one worker: topics, agents, the picture service and web views."""

from __future__ import annotations

import logging
from typing import Any, cast

import faust

from marchwarden.access.commands import CommandGate
from marchwarden.access.sessions import SessionSigner
from marchwarden.access.tokens import TokenStore
from marchwarden.access.web import AccessControl, install, parse_origins
from marchwarden.analysis.views import register_history_views
from marchwarden.brokerauth import faust_credentials
from marchwarden.context import WorkerContext
from marchwarden.engine.picture_engine import PictureEngine
from marchwarden.history.analyst import AnalystQueries, direct_lane
from marchwarden.history.gateway_client import SCHEME, RemoteAnalystLane, secrets_from
from marchwarden.history.store import HistoryStore
from marchwarden.ingest.command_router import register_command_agents
from marchwarden.ingest.worker import PictureWorker
from marchwarden.reference import load_reference
from marchwarden.screen.picture_api import register_picture_views
from marchwarden.screen.views import register_screen
from marchwarden.settings import Settings
from marchwarden.supervision import Supervisor

log = logging.getLogger(__name__)


def analyst_lane(settings: Settings, store: HistoryStore) -> AnalystQueries:
    """The analysts' own lane to the history this worker writes to."""
    if store.dsn.startswith(SCHEME):
        return RemoteAnalystLane(store.dsn, settings.analyst, secrets_from(settings))
    # On a server, analysts run as their own ClickHouse user (SELECT on the analyst views).
    user, secret = settings.clickhouse_user, settings.clickhouse_password
    if settings.clickhouse_reader_user:
        user, secret = settings.clickhouse_reader_user, settings.clickhouse_reader_password
    password = secret.get_secret_value() if secret else None
    return direct_lane(store.dsn, settings.analyst, user, password)


def access_control(settings: Settings) -> AccessControl:
    """Tokens (file and environment) and the session signer, from the settings."""
    key = settings.access.session_key
    return AccessControl(
        tokens=TokenStore(settings.tokens_path, settings.tokens),
        sessions=SessionSigner(
            key.get_secret_value().encode() if key else None, settings.access.session_ttl_s
        ),
        allowed_origins=parse_origins(settings.access.allowed_origins),
        cookie_secure=settings.access.cookie_secure,
    )


def create_worker(
    settings: Settings, store: HistoryStore, supervisor: Supervisor | None = None
) -> WorkerContext:
    """A Faust app wired to the picture engine; nothing starts until the app runs."""
    app = faust.App(
        settings.app_id,
        broker=settings.faust_broker,
        store="memory://",
        # Faust would otherwise create "<app id>-data" in whatever directory `up` was run from.
        datadir=str(settings.data_dir / "faust"),
        processing_guarantee=settings.processing_guarantee,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.heartbeat_interval_s,
        web_enabled=True,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
        broker_credentials=faust_credentials(settings),
    )
    engine = PictureEngine(
        load_reference(),
        settings.rules,
        max_bytes=settings.max_message_bytes,
        future_skew_s=settings.future_skew_s,
        letter_prefix_bytes=settings.dead_letter_prefix_bytes,
        letter_max_bytes=settings.dead_letter_max_bytes,
    )
    supervisor = supervisor or Supervisor()
    worker = PictureWorker(settings, engine, store, supervisor, loop=app.loop, beacon=app.beacon)
    app.add_dependency(worker)
    access = access_control(settings)
    install(cast(Any, app.web).web_app, access)
    ctx = WorkerContext(
        settings, app, engine, store, worker, supervisor, analyst_lane(settings, store), access
    )
    gate = CommandGate(access.tokens.organisations_of, settings.access.command_skew_s)
    register_command_agents(app, engine, settings, gate)
    register_picture_views(ctx)
    register_history_views(ctx)
    register_screen(ctx)
    return ctx
