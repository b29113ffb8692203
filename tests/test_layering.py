"""Imports point one way: engine ← warehouse ← resources ← assets/pipelines ← orchestration; dashboards read
through the warehouse. Every import in every module (including imports inside functions) is checked."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: For each package, the project packages it may import (itself included).
ALLOWED: dict[str, set[str]] = {
    "engine": {"engine"},
    "warehouse": {"engine", "warehouse"},
    "resources": {"engine", "warehouse", "resources"},
    "assets": {"engine", "warehouse", "resources", "assets", "pipelines"},
    "pipelines": {"engine", "warehouse", "resources", "assets", "pipelines"},
    "dashboards": {"engine", "warehouse", "dashboards"},
    "orchestration": {"engine", "warehouse", "resources", "assets", "pipelines", "orchestration", "dashboards"},
}
#: Third-party frameworks a floor must not import (the engine is pure domain code).
FORBIDDEN_LIBS: dict[str, set[str]] = {
    "engine": {"dagster", "streamlit", "sqlalchemy", "duckdb", "psycopg2", "psycopg", "alpaca", "requests",
               "eodhd"},
    "warehouse": {"dagster", "streamlit", "alpaca", "eodhd"},
    "dashboards": {"dagster", "alpaca", "eodhd"},
}
PROJECT = set(ALLOWED)


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
    return out


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_down(package: str) -> None:
    assert _modules(package), f"{package}/ has no modules"
    wrong = []
    for path in _modules(package):
        for line, name in _imports(path):
            top = name.split(".")[0]
            if top in PROJECT and top not in ALLOWED[package]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
            if top in FORBIDDEN_LIBS.get(package, set()):
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {name} (not allowed in {package}/)")
    assert not wrong, "imports pointing up or sideways:\n" + "\n".join(wrong)


def test_orchestration_is_only_the_top() -> None:
    """orchestration/ holds the one Definitions and the CLI only: cli.py and its per-area subcommand modules
    (cli_<area>.py, each registered by cli.build_parser), nothing else (no assets, resources or queries)."""
    names = sorted(p.name for p in (ROOT / "orchestration").glob("*.py"))
    others = [n for n in names if n not in ("__init__.py", "cli.py", "definitions.py") and not n.startswith("cli_")]
    assert not others, f"orchestration/ is only the Definitions and the CLI; move these down a floor: {others}"
    assert {"__init__.py", "cli.py", "definitions.py"} <= set(names)
    from orchestration import cli

    registered = {m.__name__.rsplit(".", 1)[1] + ".py" for m in cli._command_modules()}
    assert registered == {n for n in names if n.startswith("cli_")}, "every cli_<area>.py is registered"
