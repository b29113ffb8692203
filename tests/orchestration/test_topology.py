"""Dagster's documented deployment, as processes: gRPC code server + webserver + daemon on a Postgres instance.

* ``test_daily_run_through_the_deployed_topology`` starts ``dagster code-server start`` (the code location
  ``orchestration.definitions``), ``dagster-webserver`` and ``dagster-daemon run`` on the instance configuration of
  ``deploy/dagster.yaml`` (Postgres storage through psycopg2, queued run coordinator, default run launcher) with a
  fresh Postgres database, launches ``daily_trading`` for the last bundled session through the webserver's GraphQL
  API, waits for the daemon to dequeue and the code server to run it, and checks the warehouse rows.
* ``test_two_session_backfill_runs_in_order`` launches a two-session ``daily_trading`` backfill through GraphQL
  ``launchPartitionBackfill`` on the same topology and checks the sessions ran one after the other (run
  timestamps) and that session 2's ledger starts from session 1's.
* ``test_compose_file_validates`` runs ``docker compose config`` (or ``docker-compose config``) when a binary is
  installed; otherwise it checks the structure it needs with YAML.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

from tests.conftest import fresh_postgres_database

ROOT = Path(__file__).resolve().parents[2]
SYMPHONY = ROOT / "symphonies" / "sector_surfing_rsi_bottom2.clj"


@pytest.fixture
def instance_database():
    """A fresh Postgres database for Dagster's instance storage (dropped afterwards); skips without a server."""
    with fresh_postgres_database("oragami_dagster") as url:
        yield url


@pytest.mark.slow
@pytest.mark.postgres
def test_daily_run_through_the_deployed_topology(tmp_path, instance_database):
    import sqlalchemy as sa

    from engine.evaluate import evaluate
    from engine.model import tickers
    from engine.parsing import load_symphony
    from orchestration.cli import seed_symphonies
    from scripts.bench_scheduled import Topology
    from warehouse import Warehouse
    from warehouse.bundled import last_session, load_adjusted_closes

    session = last_session()
    warehouse_url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    wh = Warehouse(warehouse_url)
    wh.create_schema()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        [sid] = seed_symphonies(wh, [SYMPHONY], "acct-topo", "Topology test")
    wh.dispose()

    pg = instance_database
    env = {"ORAGAMI_WAREHOUSE_URL": warehouse_url, "DAGSTER_PG_HOST": pg.host or "127.0.0.1",
           "DAGSTER_PG_PORT": str(pg.port or 5432), "DAGSTER_PG_USER": pg.username or "postgres",
           "DAGSTER_PG_PASSWORD": pg.password or "trust-auth-ignores-this", "DAGSTER_PG_DB": pg.database}
    instance_yaml = (ROOT / "deploy" / "dagster.yaml").read_text()  # the deployed configuration itself
    with Topology(tmp_path / "dagster_home", instance_yaml, env=env) as topo:
        topo.wait_ready(timeout=300)
        run_id = topo.launch("daily_trading", session.isoformat())
        info = topo.wait_for_run(run_id, timeout=420)
        failures = topo.step_failures(run_id) if info["status"] != "SUCCESS" else []
        assert info["status"] == "SUCCESS", f"{failures}\n{topo.logs()}"
        tags = {t["key"]: t["value"] for t in info["tags"]}
        assert tags["dagster/partition"] == session.isoformat()
        assert info["startTime"] >= info["creationTime"]  # queued first, then started by the daemon

    # the run lives in the shared Postgres instance storage (not in a per-process SQLite file)
    engine = sa.create_engine(pg, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            status = conn.exec_driver_sql("SELECT status FROM runs WHERE run_id = %(r)s", {"r": run_id}).scalar()
            daemons = {r[0] for r in conn.exec_driver_sql("SELECT daemon_type FROM daemon_heartbeats")}
    finally:
        engine.dispose()
    assert status == "SUCCESS"
    assert "QUEUED_RUN_COORDINATOR" in daemons

    # the warehouse rows of that session: allocations equal the engine's own evaluation, orders filled, one NAV row
    wh = Warehouse(warehouse_url, read_only=True)
    try:
        alloc = wh.read("target_allocations", where={"session_date": session})
        orders = wh.read("orders", where={"session_date": session})
        nav = wh.read("daily_nav", where={"session_date": session})
    finally:
        wh.dispose()
    root = load_symphony(SYMPHONY)
    want = evaluate(root, load_adjusted_closes(sorted(tickers(root)), end=session.isoformat())).weights_on(
        session.isoformat())
    got = {r["ticker"]: r["target_weight"] for r in alloc[alloc["symphony_id"] == sid].to_dict("records")}
    assert got.keys() == want.keys()
    for ticker, weight in want.items():
        assert got[ticker] == pytest.approx(weight, abs=1e-12)
    assert len(orders) == len(want) and set(orders["status"]) == {"filled"}
    assert set(orders["side"]) == {"buy"}
    assert list(nav["symphony_id"]) == [sid]
    # first trading day: 10,000 invested with 1 bp fills → NAV = 10,000 − 10,000·s/(1+s) ≈ 9,999.00
    assert nav["nav_usd"].iloc[0] == pytest.approx(10_000 - 10_000 * 1e-4 / (1 + 1e-4), abs=0.02)


BACKFILL = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on Error { message }
  }
}"""
BACKFILL_RUNS = """
query($id: String!) {
  runsOrError(filter: {tags: [{key: "dagster/backfill", value: $id}]}) {
    __typename
    ... on Runs { results { runId status creationTime startTime endTime tags { key value } } }
  }
}"""


def _backfill_runs(topo, backfill_id: str, want: int, timeout: float) -> list[dict]:
    """Poll the backfill's runs until ``want`` of them have ended (bounded); ordered by partition."""
    import time

    from scripts.bench_scheduled import TERMINAL, TopologyError

    deadline, runs = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        topo._check_alive()
        runs = topo.graphql(BACKFILL_RUNS, {"id": backfill_id})["runsOrError"]["results"]
        if len(runs) == want and all(r["status"] in TERMINAL for r in runs):
            return sorted(runs, key=lambda r: {t["key"]: t["value"] for t in r["tags"]}["dagster/partition"])
        time.sleep(1)
    raise TopologyError(f"backfill {backfill_id}: runs not finished after {timeout:.0f} s: {runs}\n{topo.logs()}")


@pytest.mark.slow
@pytest.mark.postgres
def test_two_session_backfill_runs_in_order(tmp_path, instance_database):
    """A two-session backfill launched through the webserver's GraphQL ``launchPartitionBackfill`` (what the UI's
    backfill dialog sends) on deploy/dagster.yaml: the queue holds the second session until the first has ended
    (tag oragami/serial=daily_trading, limit 1), and session 2's ledger starts from session 1's."""
    import warnings as _warnings

    from engine.calendar import previous_session
    from orchestration.cli import seed_symphonies
    from scripts.bench_scheduled import LOCATION, Topology
    from warehouse import Warehouse
    from warehouse.bundled import last_session

    s2 = last_session()
    s1 = previous_session(s2)
    warehouse_url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    with Warehouse(warehouse_url) as wh:
        wh.create_schema()
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            [sid] = seed_symphonies(wh, [SYMPHONY], "acct-topo", "Topology test")
    pg = instance_database
    env = {"ORAGAMI_WAREHOUSE_URL": warehouse_url, "DAGSTER_PG_HOST": pg.host or "127.0.0.1",
           "DAGSTER_PG_PORT": str(pg.port or 5432), "DAGSTER_PG_USER": pg.username or "postgres",
           "DAGSTER_PG_PASSWORD": pg.password or "trust-auth-ignores-this", "DAGSTER_PG_DB": pg.database}
    # The daemon starts after the backfill is submitted: its first backfill iteration picks it up (Dagster's
    # backfill daemon otherwise looks again only every 30 s, a fixed interval no instance setting changes).
    with Topology(tmp_path / "dagster_home", (ROOT / "deploy" / "dagster.yaml").read_text(), env=env,
                  daemon=False) as topo:
        topo.wait_ready(timeout=300)
        params = {"selector": {"partitionSetName": "daily_trading_partition_set",
                               "repositorySelector": {"repositoryLocationName": LOCATION,
                                                      "repositoryName": "__repository__"}},
                  "partitionNames": [s1.isoformat(), s2.isoformat()], "fromFailure": False}
        answer = topo.graphql(BACKFILL, {"params": params}, timeout=120)["launchPartitionBackfill"]
        assert answer["__typename"] == "LaunchBackfillSuccess", answer
        topo.start_daemon()
        first, second = _backfill_runs(topo, answer["backfillId"], 2, timeout=600)
        failures = [f for r in (first, second) if r["status"] != "SUCCESS" for f in topo.step_failures(r["runId"])]
        assert (first["status"], second["status"]) == ("SUCCESS", "SUCCESS"), f"{failures}\n{topo.logs()}"
    for run, session in ((first, s1), (second, s2)):
        tags = {t["key"]: t["value"] for t in run["tags"]}
        assert tags["dagster/partition"] == session.isoformat() and tags["oragami/serial"] == "daily_trading"
    # one after the other: session 2 was queued while session 1 ran, and started only after session 1 ended
    assert second["creationTime"] < first["endTime"] <= second["startTime"]
    print(f"backfill {s1}: {first['startTime']:.1f}..{first['endTime']:.1f}; {s2}: queued "
          f"{second['creationTime']:.1f}, ran {second['startTime']:.1f}..{second['endTime']:.1f}")

    with Warehouse(warehouse_url, read_only=True) as wh:
        p1 = wh.read("positions", where={"symphony_id": sid, "session_date": s1})
        p2 = wh.read("positions", where={"symphony_id": sid, "session_date": s2})
        orders2 = wh.read("orders", where={"session_date": s2})
        nav = wh.read("daily_nav", where={"symphony_id": sid}).sort_values("session_date")
    held1 = dict(zip(p1["ticker"], p1["qty"].astype(float)))
    held2 = dict(zip(p2["ticker"], p2["qty"].astype(float)))
    assert set(held1) - {"$USD"}   # session 1 bought (the first trade of the ledger)
    # session 2's ledger = session 1's ledger + session 2's fills (one symphony in the account: all fills are its)
    want = dict(held1)
    for o in orders2.to_dict("records"):
        sign = 1.0 if o["side"] == "buy" else -1.0
        want[o["ticker"]] = want.get(o["ticker"], 0.0) + sign * float(o["filled_qty"])
        want["$USD"] -= sign * float(o["filled_qty"]) * float(o["filled_avg_price"])
    want = {t: q for t, q in want.items() if abs(q) > 1e-9 or t == "$USD"}
    assert held2.keys() == want.keys()
    for t, q in want.items():
        assert held2[t] == pytest.approx(q, abs=1e-6), t
    assert list(nav["session_date"]) == [s1, s2]
    assert nav["daily_return"].iloc[1] == pytest.approx(nav["nav_usd"].iloc[1] / nav["nav_usd"].iloc[0] - 1,
                                                        rel=1e-12)


def _compose_binary() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=30)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def test_compose_file_validates():
    """The compose file is valid for Compose itself (when installed) and has the documented topology."""
    compose = ROOT / "docker-compose.yml"
    binary = _compose_binary()
    if binary:
        base = {k: v for k, v in os.environ.items() if not k.startswith("ORAGAMI_")}
        out = subprocess.run([*binary, "-f", str(compose), "config"], capture_output=True, text=True, timeout=60,
                             cwd=ROOT, env={**base, "ORAGAMI_PG_PASSWORD": "pg-secret",
                                            "ORAGAMI_ADMIN_PASSWORD": "admin-secret"})
        assert out.returncode == 0, out.stderr
        resolved = yaml.safe_load(out.stdout)["services"]
        assert resolved["dagster-daemon"]["environment"]["DAGSTER_PG_PASSWORD"] == "pg-secret"
        assert resolved["user-code"]["environment"]["ORAGAMI_WAREHOUSE_URL"] == \
            "postgresql+psycopg2://oragami:pg-secret@postgres:5432/oragami"
        # the passwords have no default: without them Compose refuses to start, naming the variable
        missing = subprocess.run([*binary, "-f", str(compose), "config", "--quiet"], capture_output=True,
                                 text=True, timeout=60, cwd=ROOT, env=base)
        assert missing.returncode != 0 and "ORAGAMI_PG_PASSWORD" in missing.stderr
    spec = yaml.safe_load(compose.read_text())
    services = spec["services"]
    assert {"postgres", "init", "user-code", "dagster-webserver", "dagster-daemon", "dashboard"} <= set(services)
    for name in ("dagster-webserver", "dagster-daemon"):
        svc = services[name]
        assert svc["environment"]["DAGSTER_PG_HOST"] == "postgres"  # one shared instance, in Postgres
        assert "user-code" in svc["depends_on"]
        assert "healthcheck" in svc or name == "dagster-daemon"
    assert "healthcheck" in services["user-code"] and "healthcheck" in services["postgres"]
    assert services["dagster-webserver"]["depends_on"]["init"]["condition"] == "service_completed_successfully"
    assert "dagster code-server start" in " ".join(services["user-code"]["command"])
    assert services["init"]["command"][-1] == "dagster instance migrate && python -m deploy.init_warehouse"
    assert (ROOT / ".dockerignore").read_text().count(".venv") == 1
    instance = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())
    assert instance["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    assert instance["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert instance["run_launcher"]["class"] == "DefaultRunLauncher"
    if not binary:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed: validated the structure only")


def test_jobs_run_in_process():
    """The daily and backtest jobs run every step in the run worker (no process per step): see pipelines.jobs."""
    from orchestration.definitions import defs

    for name in ("daily_trading", "backtest_all"):
        assert defs.resolve_job_def(name).executor_def.name == "in_process"


@pytest.mark.postgres
def test_init_step_creates_schema_admin_and_demo(postgres_database_url, monkeypatch):
    """``python -m deploy.init_warehouse`` (the compose ``init`` service) on Postgres, run twice (idempotent)."""
    import sqlalchemy as sa

    from dashboards.auth import authenticate
    from warehouse import Warehouse

    engine = sa.create_engine(postgres_database_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    engine.dispose()
    env = {**os.environ, "ORAGAMI_WAREHOUSE_URL": postgres_database_url, "ORAGAMI_ADMIN_USER": "ops",
           "ORAGAMI_ADMIN_PASSWORD": "ops-password-1", "ORAGAMI_SEED_DEMO": "1", "ORAGAMI_DEMO_PASSWORD": "demo-pass-1"}
    for _ in range(2):
        out = subprocess.run([sys.executable, "-m", "deploy.init_warehouse"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=180)
        assert out.returncode == 0, out.stderr
        assert "ops-password-1" not in out.stdout + out.stderr  # secrets never printed
    with Warehouse(postgres_database_url) as wh:
        ops = authenticate(wh, "ops", "ops-password-1")
        demo = authenticate(wh, "demo", "demo-pass-1")
        assert authenticate(wh, "ops", "wrong-password") is None
        symphonies = wh.read("symphonies")
    assert ops is not None and ops.role == "admin" and ops.account_id is None
    assert demo is not None and demo.role == "analyst" and demo.account_id == "demo"
    assert len(symphonies) == 6 and set(symphonies["account_id"]) == {"demo"}
    missing = subprocess.run([sys.executable, "-m", "deploy.init_warehouse"], cwd=ROOT, capture_output=True,
                             text=True, timeout=180,
                             env={k: v for k, v in env.items() if k != "ORAGAMI_ADMIN_PASSWORD"})
    assert missing.returncode == 2 and "ORAGAMI_ADMIN_PASSWORD" in missing.stderr
