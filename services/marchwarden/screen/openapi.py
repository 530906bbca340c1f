"""The OpenAPI 3.1 document of the worker's HTTP API, served at /openapi.json.

Written by hand next to the routes, because Faust views carry no schema; a test compares
it with every route the worker registers, so an endpoint cannot be added undocumented.
Each operation lists the roles that may call it (`x-roles`, the same as the access policy,
access/policy.py, which a test checks) and its error answers; `x-public` marks the few that
need no token.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter

from marchwarden.contracts.alerts import AlertState
from marchwarden.contracts.commands import OperatorCommand
from marchwarden.contracts.deadletters import DeadLetter
from marchwarden.contracts.events import BorderEvent

REF = "#/components/schemas/{model}"
ALL_ROLES = ["operator", "analyst", "admin", "reporter"]
OPERATORS = ["operator"]

ERRORS = {
    400: "The request is malformed; `error` says how",
    401: "No token, or a bad or revoked one (sign in: a bearer token, or POST /session)",
    403: "The caller lacks the role, or the organisation, this needs",
    404: "No such resource",
    409: "The command does not apply to the alert's current status",
    413: "The body or the batch is over its limit",
    503: "The worker is starting, or a bound (open streams) is reached",
}


def _json(schema: dict[str, Any] | str, description: str = "OK") -> dict[str, Any]:
    if isinstance(schema, str):
        schema = {"$ref": REF.format(model=schema)}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _op(
    summary: str,
    roles: list[str],
    ok: dict[str, Any] | None = None,
    errors: tuple[int, ...] = (),
    **extra: Any,
) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": ok or _json({"type": "object"})}
    for code in (401, *errors):
        responses[str(code)] = _json("Error", ERRORS[code])
    return {"summary": summary, "x-roles": roles, "responses": responses, **extra}


def _public(operation: dict[str, Any]) -> dict[str, Any]:
    """An operation open to anyone (no token): the page, its assets, health, this document."""
    operation["responses"].pop("401", None)
    return {**operation, "x-public": True, "security": []}


def _body(schema: dict[str, Any] | str, required: bool = True) -> dict[str, Any]:
    return {"requestBody": {"required": required, **_json(schema)}}


def _schemas() -> dict[str, Any]:
    models: list[type[BaseModel]] = [AlertState, OperatorCommand, DeadLetter]
    found: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template=REF)
        found.update(schema.pop("$defs", {}))
        found[model.__name__] = schema
    events = TypeAdapter(BorderEvent).json_schema(ref_template=REF)
    found.update(events.pop("$defs", {}))
    found["BorderEvent"] = events
    found["Error"] = {
        "type": "object",
        "properties": {"error": {"type": "string"}},
        "required": ["error"],
    }
    return found


def _paths() -> dict[str, Any]:
    alert_list = {
        "type": "object",
        "properties": {
            "open": {"type": "array", "items": {"$ref": REF.format(model="AlertState")}}
        },
    }
    sql_body = {
        "type": "object",
        "properties": {"sql": {"type": "string"}, "parameters": {"type": "object"}},
        "required": ["sql"],
    }
    rows = {
        "type": "object",
        "properties": {"columns": {"type": "array"}, "rows": {"type": "array"}},
    }
    intake_answer = {
        "type": "object",
        "properties": {
            "accepted": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        k: {"type": t}
                        for k, t in (
                            ("index", "integer"),
                            ("event_id", "string"),
                            ("topic", "string"),
                            ("partition", "integer"),
                            ("offset", "integer"),
                        )
                    },
                },
            },
            "rejected": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        k: {"type": t}
                        for k, t in (
                            ("index", "integer"),
                            ("kind", "string"),
                            ("reason", "string"),
                            ("dead_lettered", "boolean"),
                        )
                    },
                },
            },
            "errors": {"type": "boolean"},
        },
    }
    html = {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}
    sse = {
        "description": "text/event-stream: `snapshot` {alerts}, `alert` (an AlertState), `heartbeat` {at}, `reset` {reason}; "
        "each snapshot and alert id is a JSON array of {topic, partition, offset} (next offset to read)",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
    return {
        "/": {
            "get": _public(
                _op("The watch floor page: map, alert board, section panel", ALL_ROLES, html)
            )
        },
        "/static/{path}": {
            "get": _public(
                _op(
                    "The page's scripts, styles and vendored Leaflet 1.9.4",
                    ALL_ROLES,
                    {"description": "a static file"},
                    (404,),
                    parameters=[_path_param("path")],
                )
            )
        },
        "/openapi.json": {"get": _public(_op("This document", ALL_ROLES))},
        "/reference.geojson": {
            "get": _op(
                "Border sections, parks and arteries as a GeoJSON FeatureCollection",
                ALL_ROLES,
                _json({"type": "object"}, "application/geo+json"),
            )
        },
        "/health": {
            "get": _public(
                _op(
                    "200 once the worker owns its partitions and has rebuilt its state; counters",
                    ALL_ROLES,
                    errors=(503,),
                )
            )
        },
        "/picture": {
            "get": _op(
                "The live picture per section: counts, baseline, surge ratio, indicators, threat level, open alerts (TLP-filtered for the caller's organisation)",
                OPERATORS,
                errors=(404,),
                parameters=[
                    {
                        "name": "section",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                    }
                ],
            )
        },
        "/alerts": {
            "get": _op(
                "Open alerts owned by this worker (TLP-filtered for the caller's organisation)",
                OPERATORS,
                _json(alert_list),
            )
        },
        "/alerts/stream": {
            "get": _op(
                "Server-Sent Events: a snapshot of the open alerts, then every alert state change (TLP-filtered for the caller's organisation); resumable with Last-Event-ID (or ?last_event_id=)",
                OPERATORS,
                sse,
                (403, 503),
                parameters=[
                    {
                        "name": "Last-Event-ID",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "last_event_id",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                    },
                ],
            )
        },
        "/alerts/{alert_id}/{command}": {
            "post": _op(
                "Acknowledge, resolve or annotate an open alert as the token's operator, of an organisation covering its section; the new state follows on the alert topics and the stream",
                ["operator"],
                _json(
                    {
                        "type": "object",
                        "properties": {
                            "command": {"$ref": REF.format(model="OperatorCommand")},
                            "alert_version": {"type": "integer"},
                        },
                    },
                    "Accepted (202): the command is on ops.commands",
                ),
                (400, 403, 404, 409, 413, 503),
                parameters=[
                    _path_param("alert_id"),
                    {
                        **_path_param("command"),
                        "schema": {
                            "type": "string",
                            "enum": ["acknowledge", "resolve", "annotate"],
                        },
                    },
                ],
                **_body(
                    {
                        "type": "object",
                        "properties": {"note": {"type": "string", "maxLength": 2000}},
                    },
                    required=False,
                ),
            )
        },
        "/sections/{section_id}/{command}": {
            "post": _op(
                "Silence a section (every rule, or one) until a time, with a reason, or lift a silence, as the token's operator, of an organisation covering the section; the worker owning it applies the command and /picture?section= shows the silences in force",
                ["operator"],
                _json(
                    {
                        "type": "object",
                        "properties": {"command": {"$ref": REF.format(model="OperatorCommand")}},
                    },
                    "Accepted (202): the command is on ops.commands",
                ),
                (400, 403, 404, 413, 503),
                parameters=[
                    _path_param("section_id"),
                    {
                        **_path_param("command"),
                        "schema": {"type": "string", "enum": ["silence", "unsilence"]},
                    },
                ],
                **_body(
                    {
                        "type": "object",
                        "properties": {
                            "rule": {"type": "string", "description": "One rule; all if absent"},
                            "until": {"type": "string", "format": "date-time"},
                            "for_minutes": {"type": "number", "exclusiveMinimum": 0},
                            "note": {
                                "type": "string",
                                "maxLength": 2000,
                                "description": "The reason (required to silence)",
                            },
                        },
                        "additionalProperties": False,
                    },
                    required=False,
                ),
            )
        },
        "/events": {
            "post": _op(
                "A batch of border events (JSON array, bounded), to the same topics with the same validation and dead letters",
                ["reporter"],
                _json(
                    intake_answer,
                    "Per event: accepted (topic, partition, offset) or rejected (kind, reason)",
                ),
                (400, 403, 413, 503),
                **_body({"type": "array", "items": {"$ref": REF.format(model="BorderEvent")}}),
            )
        },
        "/parks": {
            "get": _op("Counter-mobility stock per park and what open alerts hold", OPERATORS)
        },
        "/history/sql": {
            "post": _op(
                "One SELECT by allow-list over the caller's organisation's analyst views, read-only, under the analysts' ceilings",
                ["analyst"],
                _json(rows),
                (400, 403),
                **_body(sql_body),
            )
        },
        "/history/report": {
            "post": _op(
                "A canned report (totals, yoy, alerts) over the caller's organisation's analyst views",
                ["analyst"],
                _json(rows),
                (400,),
                **_body({"type": "object"}),
            )
        },
        "/admin/flush": {"post": _op("Flush the history sink and commit offsets", ["admin"])},
        "/admin/replay": {"post": _op("Rebuild the live state from history", ["admin"])},
        "/admin/verify": {
            "post": _op("Compare the live counters with a recomputation from history", ["admin"])
        },
        "/admin/tokens": {
            "get": _op(
                "The tokens accepted (names, roles, organisations, ids; never hashes)", ["admin"]
            ),
            "post": _op(
                "Create a token; the answer holds it, once (only its hash is kept)",
                ["admin"],
                errors=(400,),
                **_body(
                    {
                        "type": "object",
                        "properties": {
                            "role": {"type": "string"},
                            "organisation": {"type": "string"},
                            "name": {"type": "string"},
                        },
                        "required": ["role", "organisation", "name"],
                    }
                ),
            ),
        },
        "/admin/tokens/{token_id}": {
            "delete": _op(
                "Revoke a token (and its sessions)",
                ["admin"],
                errors=(404,),
                parameters=[_path_param("token_id")],
            )
        },
    }


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def openapi_document(version: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Marchwarden worker HTTP API",
            "version": version,
            "description": (
                "Roles per operation are in `x-roles`; every operation but those marked "
                "`x-public` needs a token (bearer, or the session cookie from POST /session, "
                'which the access layer serves). Errors answer {"error": "…"}.'
            ),
        },
        "paths": _paths(),
        "security": [{"bearer": []}, {"session": []}],
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "mw_session"},
            },
        },
    }
