"""The warehouse of the end-to-end tests: written by the real daily graph (three sessions of June 2024 for two
bundled symphonies of account ``acct-a``) and the backtest asset, with the analyst :data:`USER` of ``acct-a``."""
from __future__ import annotations

import warnings
from pathlib import Path

import dagster as dg
import pytest

ROOT = Path(__file__).resolve().parents[2]
USER, PASSWORD = "alice", "correct-horse-42"
SESSIONS = ("2024-06-18", "2024-06-20", "2024-06-21")


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory) -> Path:
    """The DuckDB file (built once per test session; read it only)."""
    from assets.backtests import symphony_backtests
    from assets.daily import DAILY_ASSETS
    from dashboards.auth import create_user
    from orchestration.cli import seed_symphonies
    from orchestration.definitions import build_resources
    from warehouse import Warehouse

    path = tmp_path_factory.mktemp("browser") / "w.duckdb"
    url = f"duckdb:///{path}"
    wh = Warehouse(url)
    wh.create_schema()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seed_symphonies(wh, [ROOT / "symphonies" / "sector_surfing_rsi_bottom2.clj",
                             ROOT / "symphonies" / "spy_avgo_qqq_nvda_inverse_vol.clj"], "acct-a")
    with dg.DagsterInstance.ephemeral() as instance:
        for s in SESSIONS:
            assert dg.materialize(DAILY_ASSETS, resources=build_resources(warehouse_url=url), partition_key=s,
                                  instance=instance).success
        assert dg.materialize([symphony_backtests], resources=build_resources(warehouse_url=url),
                              instance=instance,
                              run_config={"ops": {"symphony_backtests": {"config": {"start": "2024-01-02",
                                                                                     "end": "2024-06-21"}}}}).success
    create_user(wh, USER, PASSWORD, "analyst", "acct-a")
    wh.dispose()
    _collect_here()
    return path


def _collect_here() -> None:
    """Collect the runs' garbage now, in this (the main) thread.

    Otherwise a later collection may happen in a Streamlit script thread of AppTest: finalizing the runs' SQLite
    connections there fails ("SQLite objects created in a thread ..."), the failure's traceback is formatted with
    ``ast.parse``, and under CPython 3.11 before 3.11.8 (gh-106905) an ``ast.parse`` nested in the page's own AST
    construction breaks it: ``SystemError: AST constructor recursion depth mismatch``, and the page fails.
    """
    import gc

    gc.collect()
