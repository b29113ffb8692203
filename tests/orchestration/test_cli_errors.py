"""The CLI error table (docs/cli.md): every user mistake is one line on standard error and a documented exit code.

Each row of the table in ``docs/cli.md`` carries a test id; :data:`CASES` holds the same ids, and
:func:`test_the_documented_table_is_the_tested_one` checks the two sets are equal, so a row without a test (or a
test without a row) fails.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from orchestration import cli
from orchestration.cli import (EXIT_FINDINGS, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, EXIT_WAREHOUSE_LOCKED,
                               EXIT_WAREHOUSE_UNAVAILABLE, main)

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "cli.md"
SPY_QQQ = ROOT / "symphonies" / "spy_avgo_qqq_nvda_inverse_vol.clj"  # SPY, AVGO, QQQ, NVDA: all bundled
TQQQ = ROOT / "symphonies" / "tqqq_ftlt_v2_226.clj"
UNKNOWN = textwrap.dedent("""\
    (defsymphony
     "Unknown ticker test"
     {:asset-class "EQUITIES", :rebalance-frequency :daily}
     (weight-equal [(asset "SPY" "SPY") (asset "ZZZQ" "Nothing")]))
""")


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Paths the cases name: a missing file, a folder, an empty file, random bytes, an unknown-ticker symphony,
    an existing plain file (for ``--out``); the warehouse is a fresh DuckDB file under ``tmp_path``."""
    monkeypatch.delenv("ORAGAMI_WAREHOUSE_URL", raising=False)
    monkeypatch.setenv("ORAGAMI_DUCKDB_PATH", str(tmp_path / "wh.duckdb"))
    (tmp_path / "empty.json").write_text("")
    (tmp_path / "garbage.json").write_bytes(bytes([0x9F, 0x00, 0xFF, 0xC3]) * 50)
    (tmp_path / "unknown.clj").write_text(UNKNOWN)
    (tmp_path / "plain.txt").write_text("x")
    (tmp_path / "folder").mkdir()
    return {"missing": str(tmp_path / "nope.json"), "dir": str(tmp_path / "folder"),
            "empty": str(tmp_path / "empty.json"), "garbage": str(tmp_path / "garbage.json"),
            "unknown": str(tmp_path / "unknown.clj"), "plain": str(tmp_path / "plain.txt"),
            "spy": str(SPY_QQQ), "tqqq": str(TQQQ), "tmp": str(tmp_path)}


#: (test id, argv template, exit code, the one stderr line, as a regular expression). ``{name}`` is a path of
#: :func:`files`. Every id is a row of the table in docs/cli.md.
CASES = [
    ("missing-file", ["backtest", "{missing}"], EXIT_USAGE, r"error: {missing}: no such file"),
    ("missing-file-explain", ["explain", "{missing}", "--date", "2022-05-09"], EXIT_USAGE,
     r"error: {missing}: no such file"),
    ("missing-file-export", ["export", "{missing}"], EXIT_USAGE, r"error: {missing}: no such file"),
    ("missing-file-seed", ["seed", "{spy}", "{missing}"], EXIT_USAGE, r"error: {missing}: no such file"),
    ("directory", ["backtest", "{dir}"], EXIT_USAGE, r"error: {dir}: is a directory, not a symphony file"),
    ("empty-file", ["explain", "{empty}", "--date", "2022-05-09"], EXIT_USAGE,
     r"error: {empty}: empty input: no symphony text"),
    ("garbage-file", ["backtest", "{garbage}"], EXIT_USAGE, r"error: {garbage}: not UTF-8 text \(.*\)"),
    ("validate-garbage", ["validate", "{garbage}"], EXIT_USAGE, r"{garbage}: not UTF-8 text \(.*\)"),
    ("bad-date", ["explain", "{tqqq}", "--date", "2022-13-01"], EXIT_USAGE,
     r"oragami explain: error: argument --date: '2022-13-01' is not a date \(expected YYYY-MM-DD, e\.g\. "
     r"2024-06-21\) \(see 'oragami explain --help'\)"),
    ("bad-date-backtest", ["backtest", "{spy}", "--start", "garbage"], EXIT_USAGE,
     r"oragami backtest: error: argument --start: 'garbage' is not a date .*"),
    ("bad-date-run-daily", ["run-daily", "--session", "2024-02-30"], EXIT_USAGE,
     r"oragami run-daily: error: argument --session: '2024-02-30' is not a date .*"),
    ("not-a-session", ["explain", "{tqqq}", "--date", "2022-05-08"], EXIT_USAGE,
     r"error: {tqqq}: 2022-05-08 is not a session of the bundled data \(last one on or before it: 2022-05-06\)"),
    ("future-date-explain", ["explain", "{tqqq}", "--date", "2026-09-01"], EXIT_USAGE,
     r"error: {tqqq}: 2026-09-01 is not a session of the bundled data \(last one on or before it: 2026-07-31\)"),
    ("holiday-run-daily", ["run-daily", "--session", "2024-12-25"], EXIT_USAGE,
     r"error: --session 2024-12-25: not an NYSE session \(a weekend or holiday\)"),
    ("after-data-run-daily", ["run-daily", "--session", "2026-08-03"], EXIT_USAGE,
     r"error: --session 2026-08-03: after the last session of the bundled prices \(2026-07-31\); give --prices "
     r"eodhd, alpaca or a folder of prices that has it"),
    ("outside-calendar", ["run-daily", "--session", "2099-01-02"], EXIT_USAGE,
     r"error: --session 2099-01-02: outside the NYSE calendar \(2005-01-03 to \d{4}-\d\d-\d\d\)"),
    ("explain-before-data", ["explain", "{tqqq}", "--date", "1990-01-02"], EXIT_USAGE,
     r"error: {tqqq}: 1990-01-02 is before the first session of the bundled data for BSV, SPXL, SPY, SQQQ, TECL, "
     r"TQQQ, UVXY"),
    ("end-before-data", ["backtest", "{tqqq}", "--end", "1990-01-02"], EXIT_USAGE,
     r"error: --end 1990-01-02: no prices on or before it"),
    ("parity-no-folder", ["parity", "--fixtures", "{missing}"], EXIT_USAGE, r"error: --fixtures {missing}: no such folder"),
    ("parity-no-ground-truth", ["parity", "--fixtures", "{dir}"], EXIT_USAGE,
     r"error: --fixtures {dir}: no Composer ground truth in it \(expected files such as "
     r"spy_buy_hold_monthly_probe\.composer_backtest\.json\)"),
    ("data-check-empty-warehouse", ["data", "check", "--prices", "warehouse"], EXIT_USAGE,
     r"error: --prices warehouse: the warehouse data has no prices \(for the warehouse: run `oragami run-daily` or "
     r"`make demo` first\)"),
    ("start-after-end", ["backtest", "{spy}", "--start", "2020-01-02", "--end", "2019-01-02"], EXIT_USAGE,
     r"error: --start 2020-01-02 is after --end 2019-01-02"),
    ("start-after-data", ["backtest", "{spy}", "--start", "2030-01-02"], EXIT_USAGE,
     r"error: --start 2030-01-02 is after the last session of the price data \(2026-07-31\)"),
    ("unknown-ticker-backtest", ["backtest", "{unknown}"], EXIT_USAGE,
     r"error: {unknown}: tickers not in the bundled data: ZZZQ"),
    ("unknown-ticker-explain", ["explain", "{unknown}", "--date", "2024-01-02"], EXIT_USAGE,
     r"error: {unknown}: tickers not in the bundled data: ZZZQ"),
    ("unknown-benchmark", ["backtest", "{spy}", "--benchmark", "nope"], EXIT_USAGE,
     r"error: {spy}: tickers not in the bundled data: NOPE"),
    ("unknown-ticker-validate", ["validate", "{unknown}"], EXIT_FINDINGS,
     r"warning: {unknown}: no bundled price data for ZZZQ: the symphony would fail on every session"),
    ("capital-infinite", ["backtest", "{spy}", "--capital", "1e400"], EXIT_USAGE,
     r"oragami backtest: error: argument --capital: '1e400' is not a finite number .*"),
    ("capital-negative", ["backtest", "{spy}", "--capital", "-5"], EXIT_USAGE,
     r"oragami backtest: error: argument --capital: '-5' is out of range: expected more than 0 and at most "
     r"1,000,000,000,000 USD .*"),
    ("capital-not-a-number", ["backtest", "{spy}", "--capital", "lots"], EXIT_USAGE,
     r"oragami backtest: error: argument --capital: 'lots' is not a number .*"),
    ("slippage-negative", ["backtest", "{spy}", "--slippage-bps", "-3"], EXIT_USAGE,
     r"oragami backtest: error: argument --slippage-bps: '-3' is out of range: expected at least 0 and at most "
     r"10,000 bp .*"),
    ("out-is-a-file", ["backtest", "{spy}", "--out", "{plain}"], EXIT_USAGE,
     r"error: --out {plain}: is a file, not a folder"),
    ("export-out-is-a-folder", ["export", "{spy}", "--out", "{dir}"], EXIT_USAGE,
     r"error: --out {dir}: is a folder, not a file"),
    ("unknown-option-value", ["export", "{spy}", "--format", "xml"], EXIT_USAGE,
     r"oragami export: error: argument --format: invalid choice: 'xml' \(choose from 'json', 'defsymphony'\) .*"),
    ("unknown-command", ["frobnicate"], EXIT_USAGE, r"oragami: error: argument COMMAND: invalid choice: "
                                                    r"'frobnicate' .*"),
    ("missing-option", ["explain", "{tqqq}"], EXIT_USAGE,
     r"oragami explain: error: the following arguments are required: --date .*"),
    ("prices-missing", ["backtest", "{spy}", "--prices", "{missing}"], EXIT_USAGE,
     r"error: --prices {missing}: {missing}: no such directory or file \(a price source is 'bundled', "
     r"'warehouse' or a path\)"),
    ("prices-missing-run-daily", ["run-daily", "--session", "2024-06-21", "--prices", "{missing}"], EXIT_USAGE,
     r"error: --prices {missing}: market data directory '{missing}' does not exist"),
    ("warehouse-garbage", ["seed", "{spy}", "--warehouse", "garbage"], EXIT_USAGE,
     r"error: --warehouse: not a warehouse URL \(cannot be parsed\); expected duckdb:///PATH/FILE\.duckdb or "
     r"postgresql\+psycopg2://USER@HOST:PORT/DATABASE"),
    ("warehouse-backend", ["run-daily", "--session", "2024-06-21", "--warehouse", "mysql://u@h/db"], EXIT_USAGE,
     r"error: --warehouse: not a warehouse URL \(unsupported warehouse backend 'mysql' .*"),
    ("warehouse-unreachable", ["seed", "{spy}", "--warehouse", "postgresql+psycopg2://u:s3cret@127.0.0.1:1/db"],
     EXIT_WAREHOUSE_UNAVAILABLE,
     r"error: cannot open the warehouse postgresql\+psycopg2://u:\*\*\*@127\.0\.0\.1:1/db: connection to server "
     r"at \"127\.0\.0\.1\", port 1 failed: Connection refused"),
    ("warehouse-folder", ["seed", "{spy}", "--warehouse", "duckdb:///{plain}/wh.duckdb"],
     EXIT_WAREHOUSE_UNAVAILABLE, r"error: cannot open the warehouse duckdb:///{plain}/wh\.duckdb: .*"),
]


def _fill(template: str, files: dict[str, str]) -> str:
    for name, value in files.items():
        template = template.replace("{" + name + "}", value)
    return template


@pytest.mark.parametrize("case_id, argv, code, line", CASES, ids=[c[0] for c in CASES])
def test_each_mistake_is_one_line_and_its_code(case_id, argv, code, line, files, capsys) -> None:
    rc = main([_fill(a, files) for a in argv])
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.strip()]
    assert rc == code, err
    assert "Traceback" not in err
    pattern = _fill(line, {k: re.escape(v) for k, v in files.items()})
    assert len(lines) == 1 and re.fullmatch(pattern, lines[0]), lines
    assert "s3cret" not in err


def test_the_documented_table_is_the_tested_one() -> None:
    """docs/cli.md lists every case id of :data:`CASES` and of the tests below (column 'test'), and no other."""
    text = DOC.read_text()
    documented = set(re.findall(r"^\|(?:[^|\n]*\|){4}\s*`([a-z0-9-]+)`\s*\|\s*$", text, flags=re.M))
    tested = {c[0] for c in CASES} | EXTRA_IDS
    assert documented == tested, (sorted(documented - tested), sorted(tested - documented))


#: Rows of the table tested by their own functions below.
EXTRA_IDS = {"future-session", "version", "warehouse-locked", "run-daily-locked", "seed-unknown-ticker",
             "run-daily-symphony-failed", "unexpected-error", "help"}


def test_a_session_in_the_future(files, capsys) -> None:  # row `future-session`
    import pandas as pd

    from engine.calendar import nyse

    last = nyse().last_session.date()  # the calendar runs about a year ahead of today
    today = pd.Timestamp.now(tz="America/New_York").date()
    assert last > today
    assert main(["run-daily", "--session", last.isoformat()]) == EXIT_USAGE
    assert capsys.readouterr().err.splitlines() == [
        f"error: --session {last}: in the future (today is {today} in New York)"]


def test_version(capsys) -> None:  # row `version`
    from importlib.metadata import version

    assert main(["--version"]) == EXIT_OK
    assert capsys.readouterr().out.strip() == f"oragami {version('oragami-composer')}"


#: Holds a write connection to the DuckDB file argv[1] until killed.
_HOLDER = textwrap.dedent("""
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("CREATE TABLE IF NOT EXISTS held (x INTEGER)")
    print("holding", flush=True)
    time.sleep(120)
""")


def test_locked_warehouse_is_exit_3(tmp_path: Path, monkeypatch, capsys) -> None:  # row `warehouse-locked`
    path = tmp_path / "locked.duckdb"
    monkeypatch.setenv("ORAGAMI_LOCK_WAIT_S", "1")
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        t0 = time.monotonic()
        rc = main(["seed", str(SPY_QQQ), "--warehouse", f"duckdb:///{path}"])
        elapsed = time.monotonic() - t0
    finally:
        holder.kill()
        holder.wait(timeout=30)
        holder.stdout.close()
    err = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert rc == EXIT_WAREHOUSE_LOCKED
    assert len(err) == 1 and err[0].startswith(f"error: DuckDB file {path} is locked by another process: "
                                               f"PID {holder.pid}"), err
    assert elapsed < 30


def test_run_daily_on_a_locked_warehouse_is_exit_3(tmp_path: Path, monkeypatch, capsys) -> None:  # `run-daily-locked`
    """A notebook holds the DuckDB file open (read-only, another process): run-daily waits ORAGAMI_LOCK_WAIT_S and
    stops with the lock's one line, before any step runs."""
    from tests.warehouse.test_lock_wait import Notebook
    from warehouse import Warehouse

    path = tmp_path / "held.duckdb"
    with Warehouse(f"duckdb:///{path}") as wh:
        wh.create_schema()
    monkeypatch.setenv("ORAGAMI_LOCK_WAIT_S", "1")
    with Notebook(path, hold_s=120) as nb:
        rc = main(["run-daily", "--session", "2024-06-21", "--warehouse", f"duckdb:///{path}"])
        pid = nb.proc.pid
    out, err = capsys.readouterr()
    lines = [x for x in err.splitlines() if x.strip()]
    assert rc == EXIT_WAREHOUSE_LOCKED
    assert len(lines) == 1 and lines[0].startswith(f"error: DuckDB file {path} is locked by another process: "
                                                   f"PID {pid}"), lines
    assert out == ""


def test_seed_registers_and_warns_about_a_ticker_without_data(files, capsys) -> None:  # `seed-unknown-ticker`
    from warehouse import Warehouse

    assert main(["seed", files["unknown"], files["spy"], "--account", "alice"]) == EXIT_OK
    out, err = capsys.readouterr()
    assert out.strip() == "registered 2 symphonies for account alice: unknown, spy-avgo-qqq-nvda-inverse-vol"
    assert err.strip() == (f"warning: unknown ({files['unknown']}): no bundled price data for ZZZQ: it is "
                           "registered but will fail every session until those tickers have prices")
    rows = Warehouse.from_settings().read("symphonies")
    assert sorted(rows["symphony_id"]) == ["spy-avgo-qqq-nvda-inverse-vol", "unknown"]


def test_run_daily_names_the_failed_symphony_and_its_ticker(files, capsys) -> None:  # `run-daily-symphony-failed`
    assert main(["seed", files["unknown"], files["spy"], "--account", "alice", "--no-data-check"]) == EXIT_OK
    capsys.readouterr()
    rc = main(["run-daily", "--session", "2024-06-21"])
    out, err = capsys.readouterr()
    assert rc == EXIT_FINDINGS, err
    assert out.strip() == ("daily_trading 2024-06-21: done with failures; 1 ok, 1 failed, 0 skipped of 2 "
                           "symphonies")
    assert [x for x in err.splitlines() if x.strip()] == [
        "error: symphony unknown (account alice) failed on 2024-06-21: no price on 2024-06-21 for ticker(s) ZZZQ "
        "(unknown or not traded)"]


def test_run_daily_all_ok_is_exit_0(files, capsys) -> None:
    assert main(["seed", files["spy"], "--account", "alice"]) == EXIT_OK
    capsys.readouterr()
    assert main(["run-daily", "--session", "2024-06-21"]) == EXIT_OK
    out, err = capsys.readouterr()
    assert out.strip() == "daily_trading 2024-06-21: success; 1 ok, 0 failed, 0 skipped of 1 symphonies"
    assert err.strip() == ""


def test_unexpected_error_is_one_line_and_70(monkeypatch, files, capsys) -> None:  # row `unexpected-error`
    def boom(args):
        raise RuntimeError("something inside broke\nsecond line")

    monkeypatch.setattr(cli, "cmd_export", boom)
    assert main(["export", files["spy"]]) == EXIT_INTERNAL
    assert capsys.readouterr().err.splitlines() == [
        "error: unexpected RuntimeError in 'oragami export': something inside broke (a bug: run with "
        "ORAGAMI_DEBUG=1 for the traceback)"]
    monkeypatch.setenv("ORAGAMI_DEBUG", "1")
    with pytest.raises(RuntimeError, match="something inside broke"):
        main(["export", files["spy"]])


#: cli.py's own subcommands (other modules register theirs through ``_command_modules``).
OWN_COMMANDS = ["validate", "backtest", "parity", "export", "explain", "run-daily", "seed", "demo", "data",
                "data coverage", "data check"]


def _subparsers(parser):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def test_every_option_of_every_command_has_help() -> None:  # row `help`
    parser = cli.build_parser()
    top = _subparsers(parser)
    helps = {a.dest: a.help for a in top._choices_actions}
    missing = []
    for name in OWN_COMMANDS:
        words = name.split()
        p = top.choices[words[0]]
        if len(words) == 2:
            p = _subparsers(p).choices[words[1]]
        else:
            assert helps.get(name), f"subcommand {name} has no help"
        for action in p._actions:
            if action.dest != "help" and not action.help:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []
    assert all(a.help for a in parser._actions)


def test_help_exits_0_and_names_the_exit_codes(capsys) -> None:
    assert main(["run-daily", "--help"]) == EXIT_OK
    out = capsys.readouterr().out
    words = " ".join(out.split())
    assert "--session SESSION ISO date of an NYSE session" in words
    assert "Exit 0 all ran, 1 a symphony or step failed" in words


def _oragami(*argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "oragami"
    return subprocess.run([str(exe), *argv], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, **(env or {})})


def test_installed_command_version_and_a_missing_file(tmp_path: Path) -> None:
    """Through the installed ``oragami`` script: --version, and a missing file without a traceback."""
    from importlib.metadata import version

    proc = _oragami("--version")
    assert (proc.returncode, proc.stdout.strip()) == (0, f"oragami {version('oragami-composer')}")
    proc = _oragami("backtest", str(tmp_path / "nope.json"))
    assert proc.returncode == EXIT_USAGE
    assert proc.stderr.splitlines() == [f"error: {tmp_path / 'nope.json'}: no such file"]
    assert proc.stdout == ""


def test_installed_command_bad_date_is_one_line() -> None:
    proc = _oragami("run-daily", "--session", "31/07/2026")
    assert proc.returncode == EXIT_USAGE
    assert proc.stderr.splitlines() == [
        "oragami run-daily: error: argument --session: '31/07/2026' is not a date (expected YYYY-MM-DD, e.g. "
        "2024-06-21) (see 'oragami run-daily --help')"]
