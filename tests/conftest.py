"""Shared fixtures for the whole suite."""
from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import sqlalchemy as sa

#: Admin connection used to create and drop the throw-away test database (override with this env var).
POSTGRES_ADMIN_URL_ENV = "ORAGAMI_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


@contextlib.contextmanager
def fresh_postgres_database(prefix: str) -> Iterator["sa.engine.URL"]:
    """A new database ``<prefix>_<random>`` on the local PostgreSQL, dropped (``WITH (FORCE)``) on exit.

    Created through an AUTOCOMMIT connection to the ``postgres`` database as user ``postgres`` on
    ``127.0.0.1:5432`` (or ``$ORAGAMI_TEST_POSTGRES_URL``). Skips the calling test, with the reason shown, when no
    server answers. Yields the database's SQLAlchemy URL.
    """
    import sqlalchemy as sa

    admin_url = sa.engine.make_url(os.environ.get(POSTGRES_ADMIN_URL_ENV, DEFAULT_POSTGRES_ADMIN_URL))
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool,
                             connect_args={"connect_timeout": 3})
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at {admin_url.render_as_string(hide_password=True)}: "
                    f"{str(exc.orig).strip().splitlines()[0]}")
    try:
        yield admin_url.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """URL of a fresh database ``oragami_test_<random>`` on the local PostgreSQL, dropped after the session
    (:func:`fresh_postgres_database`)."""
    with fresh_postgres_database("oragami_test") as url:
        yield url.render_as_string(hide_password=False)


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL of an empty warehouse database, once per backend.

    * ``duckdb``: a new file under ``tmp_path``.
    * ``postgres``: the session's ``oragami_test_<random>`` database (:func:`postgres_database_url`) with its
      ``public`` schema dropped and recreated, so every test starts empty (much cheaper than a database per test).

    The URL carries no tables; tests call ``Warehouse(url).create_schema()``.
    """
    if request.param == "duckdb":
        yield f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
        return

    import sqlalchemy as sa

    url = request.getfixturevalue("postgres_database_url")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        engine.dispose()
    yield url
