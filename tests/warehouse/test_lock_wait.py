"""The DuckDB lock: a writer waits (bounded by ``ORAGAMI_LOCK_WAIT_S``) while another process holds the file, then
fails with one line naming the file and the holder; ``oragami run-daily`` prints that line and exits 3."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from warehouse import Warehouse, WarehouseLockedError
from warehouse.store import DEFAULT_LOCK_WAIT_S, lock_wait_from_env

ROOT = Path(__file__).resolve().parents[2]

#: A "notebook": a read-only DuckDB connection held open by another process for argv[2] seconds.
_NOTEBOOK = textwrap.dedent("""
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    con.execute("SELECT count(*) FROM daily_bars").fetchall()
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
    con.close()
""")


def _bars() -> pd.DataFrame:
    return pd.DataFrame({"ticker": ["SPY"], "session_date": [pd.Timestamp("2024-06-21").date()],
                         "close": [544.51], "adj_close": [544.51]})


class Notebook:
    """The holder process, in its own process group, killed on exit."""

    def __init__(self, path: Path, hold_s: float) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", _NOTEBOOK, str(path), str(hold_s)], text=True,
                                     stdout=subprocess.PIPE, start_new_session=True)

    def __enter__(self) -> "Notebook":
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()  # bounded: the child exits after hold_s at the latest
        assert line == "holding", f"holder did not start (exit {self.proc.poll()})"
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def warehouse_file(tmp_path: Path) -> Path:
    path = tmp_path / "oragami.duckdb"
    with Warehouse(f"duckdb:///{path}") as wh:
        wh.create_schema()
    return path


def test_writer_waits_for_the_notebook_and_then_writes(warehouse_file: Path) -> None:
    with Notebook(warehouse_file, hold_s=2.0):
        started = time.monotonic()
        with Warehouse(f"duckdb:///{warehouse_file}", lock_wait_s=60) as wh:
            wh.replace("daily_bars", _bars(), {"session_date": pd.Timestamp("2024-06-21").date()})
        waited = time.monotonic() - started
    assert 1.0 <= waited < 30  # it waited for the holder (2 s from its start) instead of failing after ~6 s
    with Warehouse(f"duckdb:///{warehouse_file}", read_only=True) as ro:
        got = ro.read("daily_bars")
    assert got["ticker"].tolist() == ["SPY"] and got["close"].tolist() == [544.51]


def test_writer_gives_up_at_the_deadline_with_one_line(warehouse_file: Path) -> None:
    with Notebook(warehouse_file, hold_s=60) as nb:
        started = time.monotonic()
        with pytest.raises(WarehouseLockedError) as info:
            Warehouse(f"duckdb:///{warehouse_file}", lock_wait_s=1.5).create_schema()
        waited = time.monotonic() - started
        pid = nb.proc.pid
    assert 1.5 <= waited < 8
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"DuckDB file {warehouse_file} is locked by another process: PID {pid} (")
    assert "ORAGAMI_LOCK_WAIT_S" in message and "read a copy" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_lock_wait_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORAGAMI_LOCK_WAIT_S", raising=False)
    assert lock_wait_from_env() == DEFAULT_LOCK_WAIT_S == 180.0
    monkeypatch.setenv("ORAGAMI_LOCK_WAIT_S", "42.5")
    assert lock_wait_from_env() == 42.5
    for bad in ("soon", "-1", "nan"):
        monkeypatch.setenv("ORAGAMI_LOCK_WAIT_S", bad)
        with pytest.raises(ValueError, match="ORAGAMI_LOCK_WAIT_S"):
            lock_wait_from_env()


def test_run_daily_prints_one_line_and_exits_3_when_locked(warehouse_file: Path) -> None:
    env = {**os.environ, "ORAGAMI_WAREHOUSE_URL": f"duckdb:///{warehouse_file}", "ORAGAMI_LOCK_WAIT_S": "2"}
    with Notebook(warehouse_file, hold_s=120) as nb:
        started = time.monotonic()
        out = subprocess.run([sys.executable, "-m", "orchestration.cli", "run-daily", "--session", "2024-06-21"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        elapsed = time.monotonic() - started
        pid = nb.proc.pid
    assert out.returncode == 3, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert lines[0].startswith(f"error: DuckDB file {warehouse_file} is locked by another process: PID {pid} (")
    assert "gave up after 2." in lines[0]
    assert out.stdout == ""
    assert elapsed >= 2


def test_run_daily_names_the_lock_when_a_step_meets_it(warehouse_file: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture) -> None:
    """The lock taken after the CLI's first open (a notebook opened mid-run): the failed step's line is the lock's."""
    import datetime as dt

    import dagster as dg

    from orchestration.cli import run_daily

    monkeypatch.setenv("ORAGAMI_WAREHOUSE_URL", f"duckdb:///{warehouse_file}")
    monkeypatch.setenv("ORAGAMI_LOCK_WAIT_S", "1")
    with Notebook(warehouse_file, hold_s=120) as nb:
        ok = run_daily(dt.date(2024, 6, 21), dg.DagsterInstance.ephemeral())
        pid = nb.proc.pid
    assert ok is False
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("  daily_bars: ")]
    assert lines == [lines[0]] and lines[0].startswith(
        f"  daily_bars: error: DuckDB file {warehouse_file} is locked by another process: PID {pid} (")
