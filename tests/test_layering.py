"""The package's imports, read from the source: no circle (function-local imports included),
and the lower layers never import the ones above them."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "services"
# What each lower layer must never import. On the way in data flows contracts -> ingest ->
# engine -> alerts (rules) -> picture (the state they read); the engine's outputs go to history
# and the screen; the worker's context and the entry points sit on top of everything.
ENTRY_POINTS = {"cli", "runner", "worker", "demo", "simulator", "bootstrap", "context"}
ABOVE_THE_ENGINE = ENTRY_POINTS | {"ingest", "history", "screen", "analysis"}
FORBIDDEN = {
    "contracts": ABOVE_THE_ENGINE | {"engine", "picture", "alerts", "allocation"},
    "reference": ABOVE_THE_ENGINE | {"engine", "picture", "alerts", "allocation"},
    "picture": ABOVE_THE_ENGINE | {"engine", "alerts", "allocation"},
    "alerts": ABOVE_THE_ENGINE | {"engine", "allocation"},
    "allocation": ABOVE_THE_ENGINE | {"engine"},
    "engine": ABOVE_THE_ENGINE,
    "history": ENTRY_POINTS | {"ingest", "screen", "analysis"},
    "ingest": ENTRY_POINTS | {"screen", "analysis"},
}


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports, at top level or inside functions."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in graph[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_no_import_circle_even_through_function_local_imports() -> None:
    graph = import_graph()
    assert len(graph) > 80, "the package was read"
    assert circles(graph) == []


def test_the_circle_finder_finds_one() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_lower_layers_never_import_the_layers_above() -> None:
    graph = import_graph()
    wrong = sorted(
        (module, target)
        for module, targets in graph.items()
        for target in targets
        if layer(target) in FORBIDDEN.get(layer(module), set())
    )
    assert wrong == []
