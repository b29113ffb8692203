"""Fixtures for the dashboard tests: seeded warehouses (see :mod:`tests.dashboards.seed_data`) and cache hygiene."""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st

from tests.dashboards.seed_data import seed_overview
from warehouse import Warehouse


@pytest.fixture(scope="session")
def seeded_duckdb_shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded DuckDB file built once per test session: read it only (copy it with ``seeded_duckdb`` to write)."""
    path = tmp_path_factory.mktemp("dashboards") / "seeded.duckdb"
    with Warehouse(f"duckdb:///{path}") as wh:
        wh.create_schema()
        seed_overview(wh)
    return path


@pytest.fixture
def seeded_duckdb(seeded_duckdb_shared: Path, tmp_path: Path) -> Path:
    """A private copy of the seeded DuckDB file (the AppTest runs find it through ``ORAGAMI_DUCKDB_PATH``)."""
    path = tmp_path / "seeded.duckdb"
    shutil.copyfile(seeded_duckdb_shared, path)
    return path


@pytest.fixture
def seeded_url(warehouse_url: str) -> str:
    """The URL of a freshly seeded warehouse, once per backend (DuckDB file; PostgreSQL when reachable)."""
    with Warehouse(warehouse_url) as wh:
        wh.create_schema()
        seed_overview(wh)
    return warehouse_url


@pytest.fixture
def clean_cache() -> Iterator[None]:
    """Empty Streamlit's data cache before and after a test (cached reads must not leak between tests)."""
    st.cache_data.clear()
    yield
    st.cache_data.clear()


@pytest.fixture
def use_duckdb(monkeypatch: pytest.MonkeyPatch, clean_cache: None):
    """Point the dashboards at a DuckDB file: ``use_duckdb(path)`` sets ``ORAGAMI_DUCKDB_PATH``."""
    monkeypatch.delenv("ORAGAMI_WAREHOUSE_URL", raising=False)

    def _use(path: Path) -> Path:
        monkeypatch.setenv("ORAGAMI_DUCKDB_PATH", str(path))
        return path

    return _use


@pytest.fixture(autouse=True)
def _dashboard_auth_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """The login is off unless a test turns it on (``monkeypatch.setenv("ORAGAMI_DASHBOARD_AUTH", "on")``): the
    overview tests exercise the pages as an operator of the local demo."""
    monkeypatch.setenv("ORAGAMI_DASHBOARD_AUTH", "off")


@pytest.fixture
def roles_db(seeded_duckdb: Path, use_duckdb, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private seeded DuckDB file (accounts ``acct-a`` "Alice" and ``acct-b`` "Bob") with the users of
    :data:`tests.dashboards.door.USERS` (analysts alice/acct-a, bob/acct-b; operator root; admin ada), the login
    on and the server bound to loopback (the demo user's condition)."""
    from streamlit import config as st_config

    from dashboards import auth
    from tests.dashboards.door import add_users

    with Warehouse(f"duckdb:///{seeded_duckdb}") as wh:
        wh.create_schema()
        add_users(wh, ("alice", "bob", "root", "ada"))
    use_duckdb(seeded_duckdb)
    monkeypatch.setenv(auth.ENV_AUTH, "on")
    before = st_config.get_option("server.address")
    st_config.set_option("server.address", "127.0.0.1")
    yield seeded_duckdb
    st_config.set_option("server.address", before)
