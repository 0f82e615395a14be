"""The house rules that keep the code base in rooms (docs/architecture.md): imports flow one way,
no import cycles, modules and functions small enough to read, and the import-graph picture in
the docs is the graph of the code as it is."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts/import_graph.py")
graph = importlib.util.module_from_spec(_spec)
sys.modules["import_graph"] = graph
_spec.loader.exec_module(graph)

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80
# path -> why it may be longer; every entry is also named in docs/architecture.md
LONG_MODULES: dict[str, str] = {}
# "path:function" -> why it may be longer
LONG_FUNCTIONS: dict[str, str] = {}


def test_every_domain_module_is_in_a_room() -> None:
    rooms = set(graph.DOMAIN)
    for path in (ROOT / "scorecards").rglob("*.py"):
        name = graph.module_name(path)
        if name != "scorecards":
            assert graph.room_of(name) in rooms, f"{name} is outside every room"


def test_imports_flow_one_way() -> None:
    assert graph.violations(graph.all_imports()) == []


@pytest.mark.parametrize(
    ("module", "target", "wrong"),
    [
        ("scorecards.kpis.engine", "dagster", "domain code imports dagster"),
        ("scorecards.core.periods", "pipelines.cli.main", "domain code imports pipelines"),
        ("scorecards.churn.scoring", "scorecards.kpis.engine.DECIMALS", None),
        ("scorecards.kpis.engine", "scorecards.churn.scoring.x", "higher room scorecards.churn"),
        ("scorecards.render.pdf", "scorecards.delivery.mail", "higher room scorecards.delivery"),
        ("assets.kpis", "pipelines.definitions", "higher room pipelines"),
        ("assets.kpis", "tests.smtp_server", "dev-only tests.smtp_server"),
        ("pipelines.cli", "assets.kpis", None),
    ],
)
def test_the_checker_sees_a_wrong_direction(module: str, target: str, wrong: str | None) -> None:
    found = graph.violations([graph.Import(module, target, 1)])
    if wrong is None:
        assert found == []
    else:
        assert len(found) == 1 and wrong in found[0], found


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles() -> None:
    modules = {graph.module_name(p) for p in graph.source_files()}
    edges: dict[str, set[str]] = {}
    for imp in graph.all_imports(top_level_only=True):
        # `from package import module` names the module; `from module import name` the module
        target = imp.target if imp.target in modules else imp.target.rpartition(".")[0]
        if target in modules and target != imp.module:
            edges.setdefault(imp.module, set()).add(target)
    assert _cycle(edges) is None
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def _code_files() -> list[Path]:
    """The product and everything that runs it: tests, benchmarks and scripts are read too."""
    dev = [p for d in ("tests", "benchmarks", "scripts") for p in (ROOT / d).rglob("*.py")]
    return [*graph.source_files(), *sorted(dev)]


def test_modules_are_small_enough_to_read() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in _code_files()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert {k: v for k, v in long.items() if k not in LONG_MODULES} == {}


def test_functions_are_small_enough_to_read() -> None:
    long = {}
    for path in _code_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                size = node.end_lineno - node.lineno + 1
                where = f"{path.relative_to(ROOT)}:{node.name}"
                if size > MAX_FUNCTION_LINES and where not in LONG_FUNCTIONS:
                    long[where] = size
    assert long == {}


def test_the_import_graph_picture_is_current() -> None:
    drawn = graph.draw_svg(graph.room_edges(graph.all_imports()))
    assert (ROOT / "docs/import-graph.svg").read_text() == drawn, (
        "the import graph changed: redraw it with `make architecture`"
    )
