"""/openapi.json documents every route the worker registers, with its roles and errors."""

from __future__ import annotations

import re
from typing import Any

from marchwarden.history.store import HistoryStore
from marchwarden.screen.openapi import ALL_ROLES, openapi_document
from marchwarden.settings import Settings
from marchwarden.worker import create_worker

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def registered_routes(store: HistoryStore) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every route on the worker's aiohttp application."""
    ctx = create_worker(Settings(broker_url="kafka://127.0.0.1:1"), store)
    web: Any = ctx.app.web
    web.init_server()  # applies Faust's blueprints, as starting the server does
    found = set()
    for route in web.web_app.router.routes():
        if route.method in IGNORED_METHODS:
            continue
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("formatter") or info.get("path")
        if path is None and "prefix" in info:  # a static directory
            path = info["prefix"].rstrip("/") + "/{path}"
        found.add((route.method.lower(), path))
    return found


def test_every_registered_route_is_in_the_document(chdb_store: HistoryStore) -> None:
    routes = registered_routes(chdb_store)
    document = openapi_document("test")
    documented = {(m, p) for p, ops in document["paths"].items() for m in ops}
    assert routes, "the worker registers routes"
    assert routes - documented == set(), "registered but undocumented"
    assert documented - routes == set(), "documented but not served"
    for expected in [("get", "/"), ("get", "/alerts/stream"), ("post", "/events")]:
        assert expected in routes


def test_each_operation_has_roles_and_its_errors() -> None:
    document = openapi_document("test")
    assert document["openapi"].startswith("3.1")
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            roles = operation["x-roles"]
            assert roles and set(roles) <= set(ALL_ROLES), (method, path)
            assert "200" in operation["responses"]
            for code, answer in operation["responses"].items():
                if code != "200":
                    assert answer["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/Error"
                    }
            for param in re.findall(r"{(\w+)}", path):
                names = [p["name"] for p in operation.get("parameters", [])]
                assert param in names, (path, param)
    stream = document["paths"]["/alerts/stream"]["get"]
    assert {"403", "503"} <= set(stream["responses"])
    assert document["paths"]["/events"]["post"]["x-roles"] == ["reporter"]
    assert document["paths"]["/alerts/{alert_id}/{command}"]["post"]["x-roles"] == ["operator"]


def test_every_schema_reference_resolves() -> None:
    document = openapi_document("test")
    schemas = document["components"]["schemas"]
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', str(document).replace("'", '"')))
    assert refs, "the document refers to its schemas"
    assert refs <= set(schemas), refs - set(schemas)
    assert {"AlertState", "BorderEvent", "OperatorCommand", "Error"} <= set(schemas)


def concrete_paths(path: str, operation: dict[str, Any]) -> list[str]:
    """The documented path with example values, once per documented command."""
    examples = {"{alert_id}": "surge.LT-BY-01.1", "{path}": "x.js", "{section_id}": "LT-BY-01"}
    examples["{token_id}"] = "abc123"
    for name, value in examples.items():
        path = path.replace(name, value)
    commands = [
        p["schema"]["enum"] for p in operation.get("parameters", []) if p["name"] == "command"
    ]
    if not commands:
        return [path]
    return [path.replace("{command}", command) for command in commands[0]]


def test_the_documented_roles_are_the_access_policys() -> None:
    from marchwarden.access.identity import ROLES
    from marchwarden.access.policy import decide, is_public

    checked = 0
    for path, operations in openapi_document("test")["paths"].items():
        for method, operation in operations.items():
            for concrete in concrete_paths(path, operation):
                checked += 1
                if operation.get("x-public"):
                    assert is_public(method.upper(), concrete), (method, concrete)
                    continue
                allowed = [r for r in ROLES if decide(r, method.upper(), concrete).allowed]
                assert sorted(operation["x-roles"]) == sorted(allowed), (method, concrete)
    assert checked >= 20, checked
