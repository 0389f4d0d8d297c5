"""The architecture contract (DESIGN.md), read from the source with ``ast``.

* Layers: data flows one way, and a module imports only from its own layer or the layers
  to its left (``LAYERS``); imports inside functions count.
* No import cycle between modules.
* No private name (leading underscore) imported from another geoattr module, and no
  private module imported except the shared bottom utilities.
* Imports at module top, except optional dependencies (``OPTIONAL``).
* Size: no module over 800 lines (the vendored Leaflet assets are not Python), no function
  body over 120 lines.
"""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "geoattr"

#: The layers from left to right; a module belongs to the first entry that its name starts with.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("geoattr._format", "geoattr._version", "geoattr._versions", "geoattr.exceptions", "geoattr.accounting",
     "geoattr._validation", "geoattr._docstrings", "geoattr._ids"),
    ("geoattr.io", "geoattr.config"),
    ("geoattr.data", "geoattr.harmonise"),
    ("geoattr.weights", "geoattr.typing"),
    ("geoattr.variables", "geoattr.demography", "geoattr.natural_change", "geoattr.instruments"),
    ("geoattr.datasets",),
    ("geoattr.models",),
    ("geoattr.attractiveness", "geoattr.attractiveness_groups", "geoattr.decomposition", "geoattr.barometer",
     "geoattr.barometer_regions", "geoattr.drivers", "geoattr.compare",
     "geoattr.robustness", "geoattr.analysis", "geoattr.lisa", "geoattr.forecast"),
    ("geoattr.report",),
    ("geoattr.pipeline",),
    ("geoattr.cli", "geoattr"),
)
#: Third-party packages that may be imported inside a function (optional at run time).
OPTIONAL = {"dask", "distributed", "duckdb", "selenium", "psutil", "jinja2"}
#: Private modules every layer may import.
SHARED_PRIVATE = {"geoattr._format", "geoattr._version", "geoattr._versions", "geoattr._validation",
                  "geoattr._docstrings", "geoattr._ids"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, tuple[Path, ast.Module]]:
    return {_module_name(p): (p, ast.parse(p.read_text(encoding="utf-8"))) for p in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> int:
    for i, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in tests/test_structure.py")


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str) -> list[tuple[str, str, int]]:
    """(imported geoattr module, imported name or "", line) for every import of a geoattr module."""
    path, tree = _modules()[module]
    mods = _modules()
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, "", node.lineno) for a in node.names if a.name.split(".")[0] == "geoattr"]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, path.name == "__init__.py", node)
            if base.split(".")[0] != "geoattr":
                continue
            for a in node.names:
                full = f"{base}.{a.name}"
                out.append((full, "", node.lineno) if full in mods else (base, a.name, node.lineno))
    return out


def test_every_module_is_in_a_layer():
    for module in _modules():
        _layer(module)


def test_imports_only_go_left():
    wrong = [f"{m} (layer {_layer(m)}) imports {t} (layer {_layer(t)}) at line {line}"
             for m in _modules() for t, _, line in _imports(m)
             if t in _modules() and _layer(t) > _layer(m)]
    assert wrong == []


def test_no_import_cycle():
    mods = _modules()
    inits = {m for m, (p, _) in mods.items() if p.name == "__init__.py"}
    graph = {m: {t for t, _, _ in _imports(m) if t in mods and t != m and t not in inits} for m in mods if m not in inits}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph.get(m, ())):
            if state.get(t) == 1:
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t, stack + [t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_no_private_name_imported_across_modules():
    bad = []
    for m in _modules():
        for t, name, line in _imports(m):
            if name.startswith("_") and not name.startswith("__"):
                bad.append(f"{m}:{line} imports {name} from {t}")
            private_module = any(part.startswith("_") and not part.startswith("__") for part in t.split("."))
            if private_module and t not in SHARED_PRIVATE and not t.startswith(m.rsplit(".", 1)[0] + "."):
                bad.append(f"{m}:{line} imports the private module {t}")
    assert bad == []


def test_imports_at_module_top_except_optional_dependencies():
    inner = []
    for m, (_, tree) in _modules().items():
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Import):
                    tops = {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and not node.level:
                    tops = {(node.module or "").split(".")[0]}
                else:
                    continue
                if not tops <= OPTIONAL:
                    inner.append(f"{m}:{node.lineno} {ast.unparse(node)}")
    assert inner == []


@pytest.mark.parametrize("limit", [800])
def test_module_size(limit):
    big = {m: n for m, (p, _) in _modules().items()
           if (n := p.read_text(encoding="utf-8").count("\n") + 1) > limit}
    assert big == {}


def test_function_size():
    long = []
    for m, (_, tree) in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = node.body
                has_doc = isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant)
                start = body[1].lineno if has_doc and len(body) > 1 else node.lineno
                if node.end_lineno - start + 1 > 120:
                    long.append(f"{m}.{node.name}: {node.end_lineno - start + 1} lines")
    assert long == []


def test_the_contract_catches_an_upward_import(tmp_path, monkeypatch):
    """The layer check is not vacuous: a weights module importing models is reported."""
    mods = dict(_modules())
    fake = ast.parse("from geoattr.models.results import Results\n")
    mods["geoattr.weights.fake"] = (tmp_path / "fake.py", fake)
    monkeypatch.setattr(sys.modules[__name__], "_modules", lambda: mods)
    upward = [t for t, _, _ in _imports("geoattr.weights.fake") if _layer(t) > _layer("geoattr.weights.fake")]
    assert upward == ["geoattr.models.results"]
