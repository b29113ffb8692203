"""``daily_trading`` launched the way the schedule launches it, timed (``make bench``).

The run goes through a real Dagster topology started as processes: a gRPC code server for the code location, the
webserver and the daemon on one instance with the queued run coordinator and the default run launcher. The run is
submitted through the webserver's GraphQL API (``launchRun`` with the partition tag, as the UI and the schedule
do: both end in the instance's run coordinator), the daemon dequeues it and the code server starts the run worker.
Nothing runs in-process.

The warehouse is seeded like ``oragami demo`` (the demo account's six symphonies on a fresh DuckDB file) and one
session is traded, the last bundled one. Each executor gets its own fresh warehouse and instance:

* ``in_process`` — the jobs' executor (:mod:`pipelines.jobs`): one run-worker process runs every step;
* ``multiprocess`` — Dagster's default, one process per step (the "before"; the code location is
  :func:`multiprocess_defs`, the same definitions with only the executor changed).

Prints, per executor, the wall time from submission to the end of the run, and the queue and run times from the
run record. The instance storage is SQLite under a temporary ``DAGSTER_HOME`` (``--postgres URL`` for Postgres).

:class:`Topology` is also the process harness of ``tests/orchestration/test_topology.py``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dagster as dg  # noqa: E402

#: Name of the code location (as in workspace.yaml / pyproject's [tool.dagster]).
LOCATION = "oragami"
BIN = Path(sys.executable).parent
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}

#: The instance of the local bench (after its storage block): SQLite storage shared by the webserver and the daemon (one machine), the queued
#: run coordinator and the default run launcher, as in deploy/dagster.yaml.
INSTANCE_REST = """\
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
run_launcher:
  module: dagster.core.launcher
  class: DefaultRunLauncher
run_retries:
  enabled: false
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
"""


@dg.definitions
def multiprocess_defs() -> dg.Definitions:
    """The code location's definitions with ``daily_trading`` on Dagster's multiprocess executor (the "before")."""
    from orchestration.definitions import defs
    from pipelines.jobs import daily_trading

    before = dg.define_asset_job(daily_trading.name, selection=daily_trading.selection,
                                 description=daily_trading.description, tags=daily_trading.tags,
                                 executor_def=dg.multiprocess_executor)
    return dg.Definitions(assets=list(defs.assets or []), asset_checks=list(defs.asset_checks or []), jobs=[before],
                          resources=dict(defs.resources or {}))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TopologyError(RuntimeError):
    """A process of the topology died, or an answer did not come in time (the message carries the log tails)."""


class Topology:
    """Code server + webserver + daemon as separate processes on one Dagster instance.

    Args:
        home: the ``DAGSTER_HOME`` folder (created); ``dagster.yaml`` is written there from ``instance_yaml``.
        instance_yaml: the instance configuration text.
        env: extra environment of all three processes (e.g. ``ORAGAMI_WAREHOUSE_URL``, ``DAGSTER_PG_*``).
        target: the code server's code: ``["-m", "orchestration.definitions"]`` (default) or ``["-f", FILE, "-a",
            ATTRIBUTE]``.
        daemon: start the daemon on entry (default); ``False`` leaves it to :meth:`start_daemon` (a backfill
            submitted before the daemon starts is picked up by its first backfill iteration instead of waiting
            up to Dagster's fixed 30 s backfill interval).

    Use as a context manager: the instance storage is created first (``dagster instance migrate``), then every
    process runs in its own process group and the whole group is terminated (then killed) on exit. Logs go to
    ``home/<name>.log``.
    """

    def __init__(self, home: Path, instance_yaml: str, env: dict[str, str] | None = None,
                 target: list[str] | None = None, daemon: bool = True) -> None:
        self.home = Path(home)
        self.start_daemon_on_entry = daemon
        self.instance_yaml = instance_yaml
        self.env = {**os.environ, "DAGSTER_HOME": str(self.home), "PYTHONPATH": str(ROOT), **(env or {})}
        self.target = target or ["-m", "orchestration.definitions"]
        self.grpc_port = free_port()
        self.web_port = free_port()
        self.procs: dict[str, subprocess.Popen] = {}
        self.workspace = self.home / "workspace.yaml"   # written on entry; read by the webserver and the daemon

    # -- processes ------------------------------------------------------------------------------------------

    def __enter__(self) -> "Topology":
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "dagster.yaml").write_text(self.instance_yaml)
        self.workspace.write_text(f"load_from:\n  - grpc_server:\n      host: 127.0.0.1\n"
                                  f"      port: {self.grpc_port}\n      location_name: {LOCATION}\n")
        # Create (or migrate) the instance storage once, before three processes would race to create it (on a fresh
        # SQLite home that race leaves two alembic heads and every process fails to open the instance).
        migrate = subprocess.run([str(BIN / "dagster"), "instance", "migrate"], cwd=ROOT, env=self.env,
                                 capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        if migrate.returncode != 0:
            raise TopologyError(f"dagster instance migrate failed ({migrate.returncode}): "
                                f"{(migrate.stdout + migrate.stderr)[-3000:]}")
        try:
            self._start("code-server", [str(BIN / "dagster"), "code-server", "start", "-h", "127.0.0.1",
                                        "-p", str(self.grpc_port), "--location-name", LOCATION, *self.target])
            self._start("webserver", [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(self.web_port),
                                      "-w", str(self.workspace)])
            if self.start_daemon_on_entry:
                self.start_daemon()
        except BaseException:
            self.stop()
            raise
        return self

    def start_daemon(self) -> None:
        """Start ``dagster-daemon run`` on the workspace (once; :meth:`__enter__` does it unless ``daemon=False``)."""
        if "daemon" not in self.procs:
            self._start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(self.workspace)])

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _start(self, name: str, cmd: list[str]) -> None:
        log = open(self.home / f"{name}.log", "wb")
        try:
            self.procs[name] = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            log.close()

    def stop(self) -> None:
        """Terminate every process group (SIGTERM, then SIGKILL after 15 s)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:  # the group may still hold children (run workers, step processes) after its leader exited
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.procs.clear()

    def logs(self, chars: int = 3000) -> str:
        """The tail of each process's log (for error messages)."""
        parts = []
        for name in ("code-server", "webserver", "daemon"):
            path = self.home / f"{name}.log"
            if path.exists():
                parts.append(f"--- {name}.log ---\n{path.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)

    def _check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise TopologyError(f"{name} exited with code {proc.returncode}\n{self.logs()}")

    # -- GraphQL --------------------------------------------------------------------------------------------

    def graphql(self, query: str, variables: dict | None = None, timeout: float = 30) -> dict:
        """POST one GraphQL request to the webserver; returns ``data`` (raises on GraphQL errors)."""
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.web_port}/graphql", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            answer = json.load(resp)
        if answer.get("errors"):
            raise TopologyError(f"GraphQL errors: {answer['errors']}")
        return answer["data"]

    def wait_ready(self, timeout: float = 240) -> float:
        """Wait until the webserver answers and shows the code location loaded; returns the seconds waited."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        query = ("{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus "
                 "locationOrLoadError { __typename ... on PythonError { message } } } } } }")
        last = "no answer"
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                data = self.graphql(query, timeout=10)
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
                last = f"webserver: {exc}"
                time.sleep(1)
                continue
            entries = {e["name"]: e for e in data["workspaceOrError"].get("locationEntries", [])}
            entry = entries.get(LOCATION)
            kind = (entry or {}).get("locationOrLoadError") or {}
            if entry and entry["loadStatus"] == "LOADED" and kind.get("__typename") == "RepositoryLocation":
                return time.monotonic() - t0
            last = f"location {LOCATION}: {entry}"
            if kind.get("__typename") == "PythonError":  # the code server was not up yet when the webserver looked
                self.graphql(f'mutation {{ reloadRepositoryLocation(repositoryLocationName: "{LOCATION}") '
                             '{ __typename } }', timeout=60)
            time.sleep(1)
        raise TopologyError(f"code location not loaded after {timeout:.0f} s ({last})\n{self.logs()}")

    def launch(self, job: str, partition: str) -> str:
        """Launch ``job`` for ``partition`` through GraphQL ``launchRun`` (what the UI's launch does); the run id."""
        mutation = """
        mutation Launch($params: ExecutionParams!) {
          launchRun(executionParams: $params) {
            __typename
            ... on LaunchRunSuccess { run { runId status } }
            ... on PythonError { message }
            ... on Error { message }
            ... on RunConfigValidationInvalid { errors { message } }
          }
        }"""
        params = {"selector": {"repositoryLocationName": LOCATION, "repositoryName": "__repository__",
                               "jobName": job},
                  "runConfigData": {},
                  "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]}}
        result = self.graphql(mutation, {"params": params}, timeout=120)["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise TopologyError(f"launchRun answered {result}")
        return result["run"]["runId"]

    def run_info(self, run_id: str) -> dict:
        """``status``, ``creationTime``, ``startTime``, ``endTime`` (epoch seconds) and ``tags`` of a run."""
        query = ("query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status creationTime startTime "
                 "endTime tags { key value } } ... on PythonError { message } } }")
        return self.graphql(query, {"id": run_id})["runOrError"]

    def wait_for_run(self, run_id: str, timeout: float = 600) -> dict:
        """Poll until the run ends (bounded); the last :meth:`run_info`."""
        deadline = time.monotonic() + timeout
        info: dict = {}
        while time.monotonic() < deadline:
            self._check_alive()
            info = self.run_info(run_id)
            if info.get("status") in TERMINAL:
                return info
            time.sleep(1)
        raise TopologyError(f"run {run_id} not finished after {timeout:.0f} s (last: {info})\n{self.logs()}")

    def step_failures(self, run_id: str) -> list[str]:
        """The messages of the run's failure events (for a failed run's report)."""
        query = ("query($id: ID!) { logsForRun(runId: $id) { __typename ... on EventConnection { events { "
                 "__typename ... on MessageEvent { message level stepKey } } } } }")
        events = self.graphql(query, {"id": run_id})["logsForRun"].get("events", [])
        return [f"{e.get('stepKey') or 'run'}: {e['message']}" for e in events if e.get("level") in ("ERROR",
                                                                                                  "CRITICAL")]


# ----------------------------------------------------------------------------------------------------------------
# The bench
# ----------------------------------------------------------------------------------------------------------------

def seed_demo(url: str) -> list[str]:
    """The demo account's symphonies (as ``oragami demo`` seeds them) on the warehouse at ``url``."""
    from orchestration.cli import DEMO_ACCOUNT, DEMO_SYMPHONIES, SYMPHONY_DIR, seed_symphonies
    from warehouse import Warehouse

    wh = Warehouse(url)
    try:
        wh.create_schema()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return seed_symphonies(wh, [SYMPHONY_DIR / n for n in DEMO_SYMPHONIES], DEMO_ACCOUNT, "Demo account")
    finally:
        wh.dispose()


def bench_one(executor: str, session: str, workdir: Path, postgres_url: str | None, timeout: float,
              fleet: tuple[int, int] | None = None) -> dict:
    """One scheduled-path run of ``daily_trading`` for ``session`` on a fresh warehouse; its timings.

    ``fleet=(accounts, per_account)``: that many accounts × symphonies (``scripts.bench_daily.build_fleet``), each
    account trading its own fake Alpaca paper server on 127.0.0.1 through the real client (``ORAGAMI_BROKER=
    alpaca``); default: the demo account on the simulated broker.
    """
    home = workdir / executor
    home.mkdir(parents=True)
    servers, env = [], {}
    if fleet:
        from scripts.bench_daily import build_fleet

        with warnings.catch_warnings():   # the corpus's known SymphonyWarnings (normalised weights, NaN weight)
            warnings.simplefilter("ignore")
            url, servers, env = build_fleet(home, *fleet, quiet=True)
        env = {**env, "ORAGAMI_BROKER": "alpaca"}
    else:
        url = f"duckdb:///{home / 'warehouse.duckdb'}"
        seed_demo(url)
    try:
        return _launch_and_time(executor, session, home, url, env, postgres_url, timeout)
    finally:
        for server in servers:
            server.stop()


def _launch_and_time(executor: str, session: str, home: Path, url: str, env: dict[str, str],
                     postgres_url: str | None, timeout: float) -> dict:
    from warehouse import Warehouse

    storage = f"  postgres:\n    postgres_url: {postgres_url}\n" if postgres_url else \
        f"  sqlite:\n    base_dir: {home}\n"
    instance_yaml = "storage:\n" + storage + INSTANCE_REST
    target = ["-m", "orchestration.definitions"] if executor == "in_process" else \
        ["-f", str(Path(__file__).resolve()), "-a", "multiprocess_defs"]
    with Topology(home, instance_yaml, env={"ORAGAMI_WAREHOUSE_URL": url, **env}, target=target) as topo:
        ready_s = topo.wait_ready()
        t0 = time.monotonic()
        run_id = topo.launch("daily_trading", session)
        info = topo.wait_for_run(run_id, timeout=timeout)
        wall = time.monotonic() - t0
        failures = topo.step_failures(run_id) if info["status"] != "SUCCESS" else []
    wh = Warehouse(url, read_only=True)
    try:
        navs = len(wh.read("daily_nav", where={"session_date": session}))
    finally:
        wh.dispose()
    return {"executor": executor, "status": info["status"], "wall_s": wall, "ready_s": ready_s,
            "queued_s": (info["startTime"] or info["creationTime"]) - info["creationTime"],
            "run_s": (info["endTime"] or 0) - (info["startTime"] or 0), "daily_nav_rows": navs,
            "failures": failures}


def main(argv: list[str] | None = None) -> int:
    from warehouse.bundled import last_session

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--session", default=None, help="session to trade (default: the last bundled session)")
    ap.add_argument("--executors", default="multiprocess,in_process",
                    help="comma-separated: multiprocess (before), in_process (the jobs' executor)")
    ap.add_argument("--postgres", default=None, help="instance storage on this Postgres URL instead of SQLite")
    ap.add_argument("--timeout", type=float, default=1200, help="seconds to wait for each run")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, warehouses)")
    ap.add_argument("--fleet", default=None, metavar="AxS",
                    help="A accounts × S symphonies against fake Alpaca paper servers (e.g. 40x40; session "
                         "2026-07-31) instead of the demo account on the simulated broker")
    args = ap.parse_args(argv)
    fleet = None
    if args.fleet:
        try:
            fleet = tuple(int(n) for n in args.fleet.lower().split("x"))
            assert len(fleet) == 2 and min(fleet) > 0
        except (ValueError, AssertionError):
            print(f"--fleet {args.fleet!r}: expected ACCOUNTSxSYMPHONIES, e.g. 40x40", file=sys.stderr)
            return 2
        from scripts.bench_daily import SESSION

        args.session = args.session or SESSION
    session = args.session or last_session().isoformat()
    what = f"{fleet[0]} × {fleet[1]} on fake Alpaca" if fleet else "demo"
    workdir = Path(tempfile.mkdtemp(prefix="oragami-bench-scheduled-"))
    rows = []
    try:
        for executor in [e.strip() for e in args.executors.split(",") if e.strip()]:
            if executor not in ("in_process", "multiprocess"):
                print(f"unknown executor {executor!r}", file=sys.stderr)
                return 2
            row = bench_one(executor, session, workdir, args.postgres, args.timeout, fleet)
            rows.append(row)
            print(f"daily_trading {session} ({what}) via webserver → queue → daemon → code server, {executor:<12}: "
                  f"{row['status']} in {row['wall_s']:6.1f} s (queued {row['queued_s']:.1f} s, run "
                  f"{row['run_s']:.1f} s; daily_nav rows {row['daily_nav_rows']}; topology up in "
                  f"{row['ready_s']:.0f} s, not counted)", flush=True)
            for f in row["failures"][:5]:
                print(f"    {f}")
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    by = {r["executor"]: r for r in rows}
    if "in_process" in by and "multiprocess" in by and by["in_process"]["wall_s"] > 0:
        print(f"in_process is {by['multiprocess']['wall_s'] / by['in_process']['wall_s']:.1f}× faster than "
              f"multiprocess on this machine ({os.cpu_count()} cores)")
    # The exit status is the shipped executor's; a failed "before" run is reported above, not fatal.
    shipped = [r for r in rows if r["executor"] == "in_process"] or rows
    return 0 if shipped and all(r["status"] == "SUCCESS" for r in shipped) else 1


if __name__ == "__main__":
    raise SystemExit(main())
