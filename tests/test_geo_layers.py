"""The geo services form layers with no import cycle: each module imports alone in a fresh interpreter,
the error types and the engine seam need no database driver, and no two modules import each other, even
through imports inside functions."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.conftest import ROOT

GEO = ROOT / "services" / "geo"
MODULES = sorted(f"services.geo.{path.stem}" for path in GEO.glob("*.py") if path.stem != "__init__")


def _geo_imports(module: str) -> set[str]:
    """services.geo modules that ``module`` imports anywhere in its source (top level or in functions)."""
    tree = ast.parse((GEO / f"{module.rsplit('.', 1)[1]}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "services.geo":
                found |= {f"services.geo.{alias.name}" for alias in node.names}
            elif node.module.startswith("services.geo."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("services.geo.")}
    return found - {module}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle in ``graph`` (module -> modules it imports) as a path, or None."""
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                return [*path, module, target]
            if target not in state and (found := visit(target, [*path, module])):
                return found
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module, [])):
            return found
    return None


def test_no_import_cycle_between_geo_modules():
    graph = {module: _geo_imports(module) & set(MODULES) for module in MODULES}
    assert graph["services.geo.errors"] == set(), "errors.py must stay a leaf"
    assert graph["services.geo.results"] == {"services.geo.errors"}
    assert "services.geo.index" not in graph["services.geo.postgis"]
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_check_finds_a_cycle():
    graph = {module: _geo_imports(module) & set(MODULES) for module in MODULES}
    graph["services.geo.postgis"] = graph["services.geo.postgis"] | {"services.geo.index"}  # the old cycle
    cycle = _cycle(graph)
    assert cycle is not None and "services.geo.postgis" in cycle and "services.geo.index" in cycle


@pytest.mark.parametrize("module", MODULES)
def test_each_module_imports_alone(module):
    done = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


def test_errors_and_the_engine_seam_need_no_database_driver():
    code = (
        "import sys\n"
        "import services.geo.errors, services.geo.results, services.geo.engine, services.geo.index\n"
        "assert 'psycopg' not in sys.modules, 'psycopg was imported'\n"
        "assert issubclass(services.geo.errors.BackendError, services.geo.errors.GeoError)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
