"""Analyst SQL by allow-list, judged on ClickHouse's own parse tree (`EXPLAIN AST`).

Accepted: one SELECT (or WITH … SELECT, UNION of SELECTs) that reads only the views of the
analyst's organisation (unqualified names, or that database named) and the documented system
tables, and calls only functions of allowed categories (system.functions says which). Every
thing else is refused with the reason: other statements (KILL, SHOW GRANTS, INSERT, SET…),
INTO OUTFILE, FORMAT, SETTINGS (the server sets the limits), table functions (file, url,
remote, s3, numbers…), other databases and system tables, and functions outside the allowed
categories (file(), dictGet, sleep, getSetting, currentUser…).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

MAX_SQL_CHARS = 20_000
# System tables an analyst may name: constant, tiny, and about nothing but themselves.
ALLOWED_SYSTEM_TABLES = frozenset({"system.one"})
# system.functions categories analysts need; "Other" (sleep, file, getSetting, currentUser…),
# Dictionary, Introspection, Internal, Encryption, AI and the rest stay out.
ALLOWED_CATEGORIES = frozenset(
    {
        "Aggregate Functions",
        "Arithmetic",
        "Arrays",
        "Comparison",
        "Conditional",
        "Dates and Times",
        "Hash",
        "JSON",
        "Logical",
        "Map",
        "Mathematical",
        "Null",
        "Rounding",
        "String",
        "String Search",
        "String Replacement",
        "String Splitting",
        "Tuple",
        "Type Conversion",
        "UUID",
    }
)
# Syntax the parser turns into functions that system.functions does not list.
# (_CAST is how typed parameters such as {ids:Array(String)} appear.)
SYNTAX_FUNCTIONS = frozenset({"lambda", "tuple", "array", "arrayElement", "tupleElement", "_CAST"})
ONE_STATEMENT = "one statement at a time: history queries are a single SELECT"
SETTINGS_REFUSED = (
    "SETTINGS are refused: the server sets the query limits (a request may lower them)"
)
AGGREGATE_COMBINATORS = (
    "SimpleState",
    "MergeState",
    "OrDefault",
    "Distinct",
    "Resample",
    "ForEach",
    "ArgMin",
    "ArgMax",
    "OrNull",
    "State",
    "Merge",
    "Array",
    "Map",
    "If",
)
SET_MEMBERSHIP = frozenset(
    {"in", "notIn", "globalIn", "globalNotIn", "nullIn", "notNullIn", "globalNullIn"}
)
_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CHILDREN = re.compile(r"\s*\(children \d+\)$")
_ALIAS = re.compile(r"\s*\(alias [^)]*\)")


class SqlRefused(ValueError):
    """An analyst query outside the allow-list; the message says what and why."""


@dataclass
class AstNode:
    kind: str
    detail: str = ""
    children: list[AstNode] = field(default_factory=list)

    def walk(self) -> Iterator[AstNode]:
        yield self
        for child in self.children:
            yield from child.walk()


def parse_explain_ast(lines: list[str]) -> AstNode:
    """The tree printed by EXPLAIN AST (one node a line, one space of indent a level)."""
    root: AstNode | None = None
    stack: list[tuple[int, AstNode]] = []
    for line in lines:
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip(" "))
        text = _ALIAS.sub("", _CHILDREN.sub("", line.strip()))
        kind, _, detail = text.partition(" ")
        node = AstNode(kind, detail.strip())
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            stack[-1][1].children.append(node)
        elif root is None:
            root = node
        else:
            raise SqlRefused(ONE_STATEMENT)
        stack.append((depth, node))
    if root is None:
        raise SqlRefused("the query is empty")
    return root


@dataclass(frozen=True)
class FunctionCatalogue:
    """Function name -> (category, is_aggregate), as system.functions lists them."""

    functions: Mapping[str, tuple[str, bool]]

    def allowed(self, name: str) -> bool:
        if name in SYNTAX_FUNCTIONS:
            return True
        entry = self.functions.get(name) or self.functions.get(name.lower())
        if entry is not None:
            return entry[0] in ALLOWED_CATEGORIES or entry[1]
        base = name
        stripped = True
        while stripped:
            stripped = False
            for suffix in AGGREGATE_COMBINATORS:
                if base.endswith(suffix) and len(base) > len(suffix):
                    base = base[: -len(suffix)]
                    stripped = True
                    entry = self.functions.get(base)
                    if entry is not None and entry[1]:
                        return True
        return False


class AnyFunction(FunctionCatalogue):
    """Every function allowed: for the workers' own reads, where only the shape is judged."""

    def __init__(self) -> None:
        super().__init__({})

    def allowed(self, name: str) -> bool:
        return True


def _check_table(name: str, database: str, what: str) -> None:
    parts = name.split(".")
    if not all(_PART.match(p) for p in parts) or len(parts) > 2:
        raise SqlRefused(f"{what} {name!r} is not a plain table name")
    if len(parts) == 1 or parts[0] == database or name in ALLOWED_SYSTEM_TABLES:
        return
    raise SqlRefused(
        f"{what} {name} is not readable: analysts read their organisation's views "
        f"(events, events_hourly, events_daily, alerts, alert_audit, dead_letters, commands) "
        f"and {', '.join(sorted(ALLOWED_SYSTEM_TABLES))}"
    )


def check_tree(root: AstNode, database: str, catalogue: FunctionCatalogue) -> None:
    """Raise SqlRefused unless the tree is an allowed analyst query."""
    if root.kind != "SelectWithUnionQuery":
        raise SqlRefused(
            "history queries are read-only: a single SELECT (or WITH … SELECT) is accepted, "
            f"not {root.kind or 'this'}"
        )
    for extra in root.children[1:]:
        if extra.kind == "Literal":
            raise SqlRefused("INTO OUTFILE is refused: results come back to you, not to files")
        if extra.kind == "Set":
            raise SqlRefused(SETTINGS_REFUSED)
        if not (extra.kind == "Identifier" and extra.detail == "Native"):
            raise SqlRefused(f"{extra.kind} {extra.detail} clauses are refused (no FORMAT)")
    for node in root.walk():
        if node.kind == "Set":
            raise SqlRefused(SETTINGS_REFUSED)
        if node.kind == "TableExpression":
            for child in node.children:
                if child.kind == "Function":
                    raise SqlRefused(f"table function {child.detail}() is refused")
        elif node.kind == "TableIdentifier":
            _check_table(node.detail, database, "table")
        elif node.kind == "Function":
            if node.detail in SET_MEMBERSHIP and node.children:
                # `x IN some_table`: the right-hand side names a table.
                arguments = node.children[0].children
                if len(arguments) == 2 and arguments[1].kind == "Identifier":
                    _check_table(arguments[1].detail, database, "set")
            if not catalogue.allowed(node.detail):
                raise SqlRefused(f"function {node.detail}() is not allowed in analyst queries")


def normalise(sql: str) -> str:
    """The text that is both checked and run: trimmed, without a trailing semicolon."""
    return sql.strip().removesuffix(";").rstrip()


def check_analyst_sql(
    sql: str,
    database: str,
    explain: Callable[[str], list[str]],
    catalogue: FunctionCatalogue,
) -> None:
    """Parse `sql` with ClickHouse (explain: runs EXPLAIN AST, returns its lines) and judge it."""
    if len(sql) > MAX_SQL_CHARS:
        raise SqlRefused(f"the query is {len(sql)} characters, over {MAX_SQL_CHARS}")
    if not sql.strip():
        raise SqlRefused("the query is empty")
    check_tree(parse_explain_ast(explain(sql)), database, catalogue)
