"""The import graph, read from the source: packages import only packages below them (no cycles),
product code never imports the test suite or a generic top-level name, the CLI's framework stays
in the CLI package, and no module grows past the size one concept needs."""

from __future__ import annotations

import ast
import os
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "modelserve"

# Lowest first. A package may import its own modules and any package of a lower layer.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("contracts", "client", "serve.backend"),  # nothing of ours (the backend runs inside Triton's stub)
    ("repository",),
    ("export", "serve", "monitor"),
    ("serving",),
    ("families",),
    ("api",),
    ("ops",),
    ("benchmarks",),
    ("cli",),
    ("root",),  # modelserve/__init__.py, __main__.py
)
LAYER = {package: i for i, layer in enumerate(LAYERS) for package in layer}
GENERIC = {"api", "client", "serve", "export", "monitor", "contracts", "benchmarks", "tests"}
MAX_LINES = 400


def _package(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "modelserve":
        return None
    if len(parts) == 1 or parts[1] in ("__init__", "__main__"):
        return "root"
    if parts[1] == "serve" and len(parts) > 2 and parts[2] == "backend":
        return "serve.backend"
    return parts[1]


def _modules() -> dict[str, Path]:
    """Every module of the namespace (the linked top-level folders included), by dotted name."""
    found = {}
    for dirpath, _, files in os.walk(PACKAGE, followlinks=True):
        for name in files:
            if name.endswith(".py"):
                path = Path(dirpath) / name
                parts = path.relative_to(ROOT).with_suffix("").parts
                found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(module: str, path: Path) -> list[str]:
    targets = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                targets.append(".".join([*base, node.module] if node.module else base))
            elif node.module:
                targets += [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
    return targets


def _graph() -> dict[str, dict[str, set[str]]]:
    edges: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for module, path in _modules().items():
        source = _package(module)
        for target in _imports(module, path):
            dest = _package(target)
            if source and dest and dest != source:
                edges[source][dest].add(module)
    return edges


def test_every_package_is_placed_in_a_layer():
    packages = {_package(m) for m in _modules()}
    assert packages - set(LAYER) == set(), "place new packages in LAYERS (and docs/design.md)"


def test_no_package_imports_one_above_it():
    upward = [
        f"{source} -> {dest} ({', '.join(sorted(modules))})"
        for source, dests in _graph().items()
        for dest, modules in dests.items()
        if LAYER[dest] >= LAYER[source]
    ]
    assert upward == []


def test_no_package_cycle():
    graph = {source: set(dests) for source, dests in _graph().items()}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    assert [p for p in graph if reaches(p, p, {p})] == []


def test_product_code_imports_no_generic_top_level_name_and_not_the_tests():
    bad = [
        f"{module}: {target}"
        for module, path in _modules().items()
        for target in _imports(module, path)
        if target.split(".")[0] in GENERIC
    ]
    assert bad == []


def test_the_cli_framework_is_imported_by_the_cli_package_only():
    outside = [
        module
        for module, path in _modules().items()
        if _package(module) != "cli" and any(t.split(".")[0] == "typer" for t in _imports(module, path))
    ]
    assert outside == []


def test_no_module_is_over_400_lines():
    long = {m: n for m, p in _modules().items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}
