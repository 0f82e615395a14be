"""The import graph of the code, by room: what tests/test_architecture.py checks and what
docs/architecture.md shows (`docs/import-graph.svg`, redrawn by `make architecture`; a dependency matrix).

Rooms are the domain subpackages of `scorecards/` in the order data flows through them, then
the Dagster layer. A module may import its own room and the rooms listed before it, never one
listed after it; the domain never imports Dagster. Every import counts, also one inside a
function (those are how the code defers heavy imports, not a way around the rule).

    python scripts/import_graph.py            # print the room graph and any violation
    python scripts/import_graph.py --svg F    # also draw it as SVG into F
"""

from __future__ import annotations

import argparse
import ast
import html
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (room, what it holds), low to high: a room may import only itself and rooms above it here.
ROOMS: tuple[tuple[str, str], ...] = (
    ("scorecards.core", "periods, package files, CSV writing"),
    ("scorecards.contract", "datasets, KPI catalogue"),
    ("scorecards.config", "settings, environment, source mappings"),
    ("scorecards.text", "message catalogue, number formats"),
    ("scorecards.warehouse", "connection, schema, transactions, SQL"),
    ("scorecards.ingest", "files, mapping, validation, audit"),
    ("scorecards.kpis", "KPI engine, statistics"),
    ("scorecards.churn", "signals, model, scoring"),
    ("scorecards.notes", "context-note rules"),
    ("scorecards.report", "report data, attention"),
    ("scorecards.render", "charts, HTML, PDF"),
    ("scorecards.delivery", "mail, SMTP, ledger, gate"),
    ("scorecards.demo", "demo data"),
    ("assets", "Dagster assets"),
    ("pipelines", "Dagster definitions, schedules, CLI"),
)
ROOM_NAMES = tuple(name for name, _ in ROOMS)
DOMAIN = tuple(n for n in ROOM_NAMES if n.startswith("scorecards."))
# third-party packages the domain must not import: the Dagster layer stays thin and on top
DAGSTER = ("dagster", "dagster_postgres", "dagster_k8s", "dagster_webserver")
SOURCE_DIRS = ("scorecards", "assets", "pipelines")


@dataclass(frozen=True)
class Import:
    module: str  # importing module, dotted
    target: str  # imported module (or module.name), dotted
    line: int

    @property
    def where(self) -> str:
        return f"{self.module.replace('.', '/')}.py:{self.line}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> list[Path]:
    return sorted(p for d in SOURCE_DIRS for p in (ROOT / d).rglob("*.py"))


def imports_of(path: Path, top_level_only: bool = False) -> list[Import]:
    """What `path` imports; with top_level_only, only what runs when the module loads (the
    imports that can form a cycle), not the deferred ones inside functions."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    nodes = tree.body if top_level_only else ast.walk(tree)
    found: list[Import] = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [Import(me, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found += [Import(me, f"{base}.{alias.name}", node.lineno) for alias in node.names]
    return found


def room_of(module: str) -> str | None:
    """The room a dotted name belongs to: the longest room name it starts with."""
    inside = [room for room in ROOM_NAMES if module == room or module.startswith(room + ".")]
    return max(inside, key=len, default=None)


def all_imports(top_level_only: bool = False) -> list[Import]:
    return [imp for path in source_files() for imp in imports_of(path, top_level_only)]


def violations(imports: Iterable[Import]) -> list[str]:
    """Every import against the one-way flow, as `file:line: what is wrong`."""
    rank = {room: i for i, room in enumerate(ROOM_NAMES)}
    out = []
    for imp in imports:
        mine, theirs = room_of(imp.module), room_of(imp.target)
        top = imp.target.split(".")[0]
        if mine is None and imp.module.startswith("scorecards."):
            out.append(f"{imp.where}: module outside every room")
        elif mine in DOMAIN and top in (*DAGSTER, "assets", "pipelines", "tests", "benchmarks"):
            out.append(f"{imp.where}: domain code imports {imp.target}")
        elif mine and top in ("tests", "benchmarks"):
            out.append(f"{imp.where}: product code imports dev-only {imp.target}")
        elif mine and theirs and rank[theirs] > rank[mine]:
            out.append(f"{imp.where}: {mine} imports the higher room {theirs} ({imp.target})")
    return out


def room_edges(imports: Iterable[Import]) -> dict[tuple[str, str], int]:
    """(importing room, imported room) -> number of importing modules."""
    seen: dict[tuple[str, str], set[str]] = {}
    for imp in imports:
        mine, theirs = room_of(imp.module), room_of(imp.target)
        if mine and theirs and mine != theirs:
            seen.setdefault((mine, theirs), set()).add(imp.module)
    return {edge: len(mods) for edge, mods in sorted(seen.items())}


# --- picture ------------------------------------------------------------------------------------

CELL, LABEL_W, HEAD_H, PAD = 34, 330, 150, 12


def _short(room: str) -> str:
    return room.removeprefix("scorecards.")


def draw_svg(edges: dict[tuple[str, str], int]) -> str:
    """The room graph as a dependency matrix: row R, column C holds how many modules of R
    import C. Rooms are in flow order, so a one-way graph has every mark left of the diagonal;
    a mark right of it (an import of a higher room) is drawn red. Deterministic for a graph."""
    n = len(ROOMS)
    width = LABEL_W + n * CELL + PAD
    height = HEAD_H + n * CELL + PAD + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Inter, DejaVu Sans, sans-serif">',
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
    ]
    for i, (room, what) in enumerate(ROOMS):
        y = HEAD_H + i * CELL
        x = LABEL_W + i * CELL
        fill = "#eef3f8" if room.startswith("scorecards.") else "#f8efe6"
        out.append(
            f'<rect x="0" y="{y}" width="{LABEL_W + n * CELL}" height="{CELL}" fill="{fill}" '
            f'opacity="{0.9 if i % 2 else 0.45}"/>'
            f'<text x="8" y="{y + 15}" font-size="13" font-weight="600">'
            f"{html.escape(_short(room))}</text>"
            f'<text x="8" y="{y + 28}" font-size="10.5" fill="#444">{html.escape(what)}</text>'
            f'<text transform="translate({x + CELL / 2 + 4},{HEAD_H - 6}) rotate(-60)" '
            f'font-size="12">{html.escape(_short(room))}</text>'
            f'<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" fill="#d9d9d9"/>'
        )
    rank = {room: i for i, room in enumerate(ROOM_NAMES)}
    for (src, dst), count in edges.items():
        r, c = rank[src], rank[dst]
        colour = "#c0392b" if c > r else "#34495e"
        cx, cy = LABEL_W + c * CELL + CELL / 2, HEAD_H + r * CELL + CELL / 2
        out.append(
            f'<circle cx="{cx}" cy="{cy}" r="{min(6 + 2 * count, CELL / 2 - 3)}" '
            f'fill="{colour}" fill-opacity="0.85"/>'
            f'<text x="{cx}" y="{cy + 4}" font-size="11" fill="#fff" text-anchor="middle">'
            f"{count}</text>"
        )
    grid_bottom = HEAD_H + n * CELL
    out.append(
        f'<rect x="{LABEL_W}" y="{HEAD_H}" width="{n * CELL}" height="{n * CELL}" '
        'fill="none" stroke="#333"/>'
        f'<text x="8" y="{grid_bottom + 26}" font-size="11.5" fill="#333">Row imports column '
        "(number of importing modules). Rooms in flow order: every import sits left of the "
        "grey diagonal.</text>"
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--svg", type=Path, help="write the room graph as SVG here")
    args = ap.parse_args(argv)
    imports = all_imports()
    edges = room_edges(imports)
    for (src, dst), n in edges.items():
        print(f"{src:22} -> {dst:22} ({n} module{'s' if n > 1 else ''})")
    bad = violations(imports)
    for line in bad:
        print(line, file=sys.stderr)
    if args.svg:
        args.svg.write_text(draw_svg(edges))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
