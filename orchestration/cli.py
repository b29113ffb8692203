"""The ``oragami`` command line.

    oragami validate FILE...                 check symphonies; exit 2 naming file, node path and field
    oragami parity                           ours vs Composer (gap, tolerance) for tests/fixtures/composer
    oragami backtest FILE [--start D] [--end D] [--capital N] [--slippage-bps B] [--out DIR]
    oragami export FILE [--format json|defsymphony] [--out F]   write the JSON score back
    oragami explain FILE --date D [--json]   the decision trace: why it holds what it holds that day
    oragami run-daily --session D [--broker alpaca]   run the daily_trading job for one session, in-process
    oragami seed FILE... [--account ID]      register symphonies (active) in the warehouse
    oragami demo                             seed the demo account, a year of paper trading, backtest, summarise
    oragami data coverage [TICKER...] [--prices P]   first/last date, rows, interior gaps and source per ticker
    oragami data check [TICKER...] [--prices P]      data quality: stale series, gaps, non-positive values, jumps

Prices: ``--prices`` on ``backtest``, ``explain``, ``run-daily`` and ``data``: ``bundled`` (default), ``warehouse``
or a directory / file of your own CSV or Parquet prices (formats: :mod:`warehouse.prices`).

Warehouse: ``--warehouse URL`` or ``ORAGAMI_WAREHOUSE_URL``; else the DuckDB file ``ORAGAMI_DUCKDB_PATH`` or
``./var/oragami.duckdb``.

Errors: a user's mistake (missing or unreadable file, bad date, unknown ticker, bad option value, a warehouse that
cannot be opened or is locked) is one line on standard error and an exit code, never a traceback; the table of
mistakes, messages and codes is ``docs/cli.md``. Codes: :data:`EXIT_OK` 0, :data:`EXIT_FINDINGS` 1,
:data:`EXIT_USAGE` 2, :data:`EXIT_WAREHOUSE_LOCKED` 3, :data:`EXIT_WAREHOUSE_UNAVAILABLE` 4,
:data:`EXIT_INTERNAL` 70 (``ORAGAMI_DEBUG=1`` shows the traceback instead).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

import pandas as pd

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SYMPHONY_DIR = PROJECT_ROOT / "symphonies"

#: The demo account's symphonies: bundled copies of real public symphonies whose tickers are all in the bundle.
DEMO_SYMPHONIES = [
    "sector_surfing_rsi_bottom2.clj",
    "spy_avgo_qqq_nvda_inverse_vol.clj",
    "tqqq_ftlt_v2_226.clj",
    "golden_rotation_2x.clj",
    "editor_relative_strength_index.json",
    "editor_standard_deviation_of_return.json",
]
DEMO_ACCOUNT = "demo"
#: In-process runs log warnings and errors only (the Dagster UI keeps the full event log).
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
#: ``oragami run-daily`` without ``--verbose``: no Dagster console log (the command prints each failure itself).
SILENT = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
#: Sessions of paper history ``oragami demo`` builds (a year), and how many of the last ones the daily graph trades
#: itself; the earlier ones are replayed (``oragami replay``, :func:`pipelines.replay.replay_range`).
DEMO_SESSIONS = 252
DEMO_GRAPH_SESSIONS = 2


#: Exit codes of every subcommand (docs/cli.md has the table of mistakes -> message -> code).
EXIT_OK = 0
#: The command ran but found something: validate's tickers without data, run-daily's failed symphonies, parity
#: outside tolerance, data check findings.
EXIT_FINDINGS = 1
#: A mistake in the command line or its input (argparse's own code): missing/unreadable file, bad date, unknown
#: ticker, bad option value, warehouse URL that is not one.
EXIT_USAGE = 2
#: The warehouse could not be opened: the server does not answer, its driver is missing, the path is not writable.
EXIT_WAREHOUSE_UNAVAILABLE = 4
#: An unexpected error (a bug): one line, and ``ORAGAMI_DEBUG=1`` for the traceback (``EX_SOFTWARE`` of sysexits).
EXIT_INTERNAL = 70
#: Set to ``1`` to let an unexpected error raise with its traceback instead of the one-line message.
ENV_DEBUG = "ORAGAMI_DEBUG"


class CliError(Exception):
    """A user's mistake, reported by :func:`main` as ``error: <message>`` on standard error (no traceback).

    Attributes:
        message: what is wrong and where (file, option, ticker, date).
        code: the exit code (default :data:`EXIT_USAGE`).
    """

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _err(msg: str) -> None:
    print(msg, file=sys.stderr)


def _iso_date(text: str) -> str:
    """argparse type of a date option: the ISO date (``YYYY-MM-DD``) normalised, or an argparse error naming it."""
    try:
        return dt.date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (expected YYYY-MM-DD, e.g. 2024-06-21)") from None


def _bounded_float(lo: float, hi: float, *, lo_open: bool, unit: str):
    """argparse type: a finite float in ``(lo, hi]`` (``lo_open``) or ``[lo, hi]``, in ``unit``."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if (value <= lo if lo_open else value < lo) or value > hi:
            raise argparse.ArgumentTypeError(
                f"{text!r} is out of range: expected {'more than' if lo_open else 'at least'} {lo:g} and at most "
                f"{hi:,.0f} {unit}")
        return value
    return parse


#: ``--capital``: more than 0, at most a trillion USD (cents stay exact in a float well beyond that).
MAX_CAPITAL_USD = 1e12
_capital = _bounded_float(0.0, MAX_CAPITAL_USD, lo_open=True, unit="USD")
#: ``--slippage-bps``: 0 to 10,000 bp (100 %).
_slippage = _bounded_float(0.0, 10_000.0, lo_open=False, unit="bp")


def _check_file(path: str) -> Path:
    """``path`` as a readable regular file, or :class:`CliError` saying what it is instead."""
    p = Path(path)
    if not p.exists():
        raise CliError(f"{path}: no such file")
    if p.is_dir():
        raise CliError(f"{path}: is a directory, not a symphony file")
    if not os.access(p, os.R_OK):
        raise CliError(f"{path}: cannot read: permission denied")
    return p


def _load(path: str):
    """The parsed symphony at ``path`` (:func:`engine.parsing.load_symphony`), or :class:`CliError` naming the
    file (and node path and field when the text is at fault)."""
    from engine.errors import SymphonyError
    from engine.parsing import load_symphony

    _check_file(path)
    try:
        return load_symphony(path)
    except SymphonyError as exc:
        raise CliError(str(exc) if exc.source else f"{path}: {exc}") from None
    except OSError as exc:
        raise CliError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _out_dir(path: str) -> Path:
    """``--out`` as a folder that exists (created), or :class:`CliError` when it cannot be."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {path}: is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"--out {path}: cannot create the folder: {exc.strerror or exc}") from None
    return out


def _price_reader(args):
    """The price reader of ``--prices`` (bundled default), or :class:`CliError` when the source cannot be read."""
    from engine.errors import DataError
    from warehouse.prices import close_reader

    source = getattr(args, "prices", None)
    try:
        return close_reader(source, warehouse=_warehouse(args) if source == "warehouse" else None)
    except DataError as exc:
        raise CliError(f"--prices {source}: {exc}") from None


def _without_data(reader, root) -> list[str]:
    """The symphony's tickers that ``reader`` has no prices for at all, sorted."""
    from engine.model import tickers

    have = set(reader.available_tickers())
    return sorted(t for t in tickers(root) if t not in have)


def cmd_validate(args) -> int:
    """``oragami validate FILE...``: parse each file and check its tickers against ``--prices`` (bundled default).

    Exit :data:`EXIT_USAGE` when any file does not parse (one line per file naming file, node path and field),
    else :data:`EXIT_FINDINGS` when a parsed symphony names tickers the price source has no data for (a warning
    per file: it would fail every session), else 0.
    """
    from engine.model import iter_nodes, tickers

    reader = _price_reader(args) if not args.no_data_check else None
    bad = unpriced = 0
    for f in args.files:
        try:
            root = _load(f)
        except CliError as exc:
            _err(exc.message)
            bad += 1
            continue
        n_nodes = sum(1 for _ in iter_nodes(root))
        print(f"{f}: ok — {root.name!r}, rebalance {root.rebalance}, {n_nodes} nodes, "
              f"tickers {', '.join(sorted(tickers(root)))}")
        lacking = _without_data(reader, root) if reader is not None else []
        if lacking:
            unpriced += 1
            _err(f"warning: {f}: no {reader.source} price data for {', '.join(lacking)}: the symphony would fail "
                 "on every session")
    return EXIT_USAGE if bad else EXIT_FINDINGS if unpriced else EXIT_OK


def _session_window(args, closes) -> None:
    """:class:`CliError` when ``--start`` is after ``--end``, after the last session of the prices read, or
    ``--end`` before their first."""
    if not len(closes.index):
        raise CliError(f"--end {args.end}: no prices on or before it" if args.end else "no prices to backtest on")
    if args.start and args.end and args.start > args.end:
        raise CliError(f"--start {args.start} is after --end {args.end}")
    if args.start and len(closes.index) and pd.Timestamp(args.start) > closes.index[-1]:
        raise CliError(f"--start {args.start} is after the last session of the price data "
                       f"({closes.index[-1].date()})")


def cmd_backtest(args) -> int:
    """``oragami backtest FILE``: stats as JSON on standard output, CSVs under ``--out``. Exit 0, or
    :data:`EXIT_USAGE` naming the file, ticker, date or option at fault."""
    from engine.backtest import run_backtest
    from engine.errors import DataError
    from engine.model import tickers

    root = _load(args.file)
    outdir = _out_dir(args.out) if args.out else None
    reader = _price_reader(args)
    need = sorted(tickers(root) | {args.benchmark.upper()})
    try:
        closes = reader.closes(need, end=args.end)
        _session_window(args, closes)
        res = run_backtest(root, closes, start=args.start, end=args.end, capital=args.capital,
                           slippage_bps=args.slippage_bps, apply_reg_fee=not args.no_reg_fee,
                           apply_taf_fee=not args.no_taf_fee, apply_cat_fee=not args.no_cat_fee,
                           benchmark=args.benchmark.upper(), allow_missing_prices=args.allow_missing_prices)
    except DataError as exc:
        raise CliError(f"{args.file}: {exc}") from None
    out = {"symphony": root.name, "first_day": res.first_day.date().isoformat(),
           "last_day": res.last_day.date().isoformat(), "capital": args.capital, "slippage_bps": args.slippage_bps,
           "final_value": round(float(res.nav.iloc[-1]), 2), "rebalances": int(res.rebalanced.sum()),
           "costs": {k: round(float(v), 2) for k, v in res.costs_summary.items()},
           "stats": {k: (None if v != v else round(v, 6)) for k, v in res.full_stats.items()},
           "benchmark": {"ticker": args.benchmark.upper(),
                         "stats": {k: (None if v != v else round(v, 6)) for k, v in (res.benchmark_stats or {}).items()
                                   if k in ("cumulative_return", "annualized_return", "sharpe_ratio", "max_drawdown")}},
           "data_warnings": res.data_warnings, "warnings": res.warnings}
    print(json.dumps(out, indent=2))
    if outdir is not None:
        try:
            pd.DataFrame({"date": res.nav.index.date, "value": res.nav.round(6).to_numpy(),
                          "daily_return": res.daily_return.to_numpy()}).to_csv(outdir / "daily_values.csv",
                                                                                index=False)
            tw = res.target_weights.copy()
            tw.index = tw.index.date
            long = tw.stack().rename("weight").reset_index()
            long.columns = ["date", "ticker", "weight"]
            long[long["weight"] > 1e-12].to_csv(outdir / "weights.csv", index=False)
            # day-end drifted weights (Composer's Historical Allocations) and the sessions that traded, and why
            hw = res.holdings_weights()
            hw.index = pd.Index(hw.index.date, name="date")
            hw.round(10).to_csv(outdir / "holdings.csv")
            res.rebalances().to_csv(outdir / "rebalances.csv", index=False)
        except OSError as exc:
            raise CliError(f"--out {args.out}: cannot write: {exc.strerror or exc}") from None
        _err(f"wrote {outdir / 'daily_values.csv'}, weights.csv, holdings.csv and rebalances.csv")
    return EXIT_OK


def cmd_parity(args) -> int:
    """Print ours vs Composer for every ground truth in ``tests/fixtures/composer`` (:mod:`engine.parity`).

    Exit 0 when every check is within its tolerance, 1 otherwise.
    """
    from engine.parity import format_report, run_parity
    from warehouse.bundled import load_adjusted_closes

    fixtures = Path(args.fixtures) if args.fixtures else PROJECT_ROOT / "tests" / "fixtures" / "composer"
    if not fixtures.is_dir():
        raise CliError(f"--fixtures {fixtures}: {'is a file, not a folder' if fixtures.exists() else 'no such folder'}")
    results = run_parity(fixtures, SYMPHONY_DIR, load_adjusted_closes)
    if not results:
        raise CliError(f"--fixtures {fixtures}: no Composer ground truth in it (expected files such as "
                       "spy_buy_hold_monthly_probe.composer_backtest.json)")
    print(format_report(results))
    return 0 if all(g.ok or g.skipped for g in results) else 1


def cmd_export(args) -> int:
    """``oragami export FILE``: the symphony as a Composer JSON score (or defsymphony text), to standard output or
    ``--out``. Exit 0, or :data:`EXIT_USAGE` naming the file at fault."""
    from engine.errors import SymphonyError
    from engine.export import export_symphony

    _check_file(args.file)
    try:
        text = export_symphony(args.file, fmt=args.format)
    except SymphonyError as exc:
        raise CliError(str(exc) if exc.source else f"{args.file}: {exc}") from None
    except OSError as exc:
        raise CliError(f"{args.file}: cannot read: {exc.strerror or exc}") from None
    if args.out:
        if Path(args.out).is_dir():
            raise CliError(f"--out {args.out}: is a folder, not a file")
        try:
            Path(args.out).write_text(text)
        except OSError as exc:
            raise CliError(f"--out {args.out}: cannot write: {exc.strerror or exc}") from None
        _err(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_explain(args) -> int:
    """``oragami explain FILE --date D``: the decision trace of that session. Exit 0, or :data:`EXIT_USAGE`
    naming the file, the ticker without data, or the date that is not a session of the price data."""
    from engine.errors import DataError
    from engine.evaluate import evaluate
    from engine.model import tickers

    root = _load(args.file)
    reader = _price_reader(args)
    try:
        closes = reader.closes(sorted(tickers(root)), end=args.date)
        if not len(closes.index):
            raise DataError(f"{args.date} is before the first session of the {reader.source} data for "
                            f"{', '.join(sorted(tickers(root)))}")
        ev = evaluate(root, closes)
        day = pd.Timestamp(args.date)
        if day not in ev.sessions:
            before = ev.sessions[ev.sessions <= day]
            raise DataError(f"{args.date} is not a session of the {reader.source} data (last one on or before it: "
                            f"{before[-1].date() if len(before) else 'none'})")
        trace = ev.trace(day)
        weights = ev.weights_on(day)
    except (DataError, KeyError) as exc:
        raise CliError(f"{args.file}: {exc.args[0] if type(exc) is KeyError else exc}") from None
    if args.json:
        print(json.dumps({"symphony": root.name, "date": args.date, "valid": bool(ev.valid.loc[day]),
                          "weights": weights, "trace": trace}, indent=2))
        return EXIT_OK
    print(f"{root.name} on {args.date}" + ("" if ev.valid.loc[day] else "  (WARNING: warm-up not complete)"))
    for entry in trace:
        depth = entry["node_path"].count("/")
        print(f"{'  ' * depth}{entry['node_path']} {entry['node_type']}: {entry['summary']}")
        if entry["node_type"] == "if" and len(entry["detail"]["comparisons"]) > 1:
            for c in entry["detail"]["comparisons"]:
                print(f"{'  ' * (depth + 1)}{c['lhs']}={c['lhs_value']} {c['comparator']} {c['rhs']}={c['rhs_value']}"
                      f" -> {c['result']}")
    print("target weights: " + ", ".join(f"{t} {w:.2%}" for t, w in sorted(weights.items(), key=lambda kv: -kv[1])))
    return EXIT_OK


def _warehouse(args):
    """The warehouse of ``--warehouse`` / the environment, its schema created; one per command (kept on ``args``).

    Raises:
        CliError: :data:`EXIT_USAGE` for a URL that is not a warehouse URL; :data:`EXIT_WAREHOUSE_UNAVAILABLE`
            when it cannot be opened (server not answering, driver missing, folder not writable). The password
            of a URL is never printed.
        warehouse.WarehouseLockedError: the DuckDB file stayed locked (:func:`main` exits
            :data:`EXIT_WAREHOUSE_LOCKED`).
    """
    import sqlalchemy.exc as sa_exc

    from warehouse import ENV_DUCKDB_PATH, ENV_URL, Warehouse, WarehouseLockedError

    if getattr(args, "_wh", None) is not None:
        return args._wh
    if getattr(args, "warehouse", None):
        os.environ[ENV_URL] = args.warehouse
    where = ("--warehouse" if getattr(args, "warehouse", None) else ENV_URL if os.environ.get(ENV_URL)
             else ENV_DUCKDB_PATH if os.environ.get(ENV_DUCKDB_PATH) else "the default DuckDB file")
    try:
        wh = Warehouse.from_settings()
    except ImportError as exc:
        raise CliError(f"{where}: the warehouse's database driver is not installed ({exc.name or exc})",
                       EXIT_WAREHOUSE_UNAVAILABLE) from None
    except (sa_exc.ArgumentError, ValueError) as exc:
        detail = str(exc) if isinstance(exc, ValueError) and "unsupported warehouse backend" in str(exc) else \
            "cannot be parsed"
        raise CliError(f"{where}: not a warehouse URL ({detail}); expected duckdb:///PATH/FILE.duckdb or "
                       "postgresql+psycopg2://USER@HOST:PORT/DATABASE") from None
    except OSError as exc:
        raise CliError(f"{where}: cannot create the warehouse folder: {exc.strerror or exc}",
                       EXIT_WAREHOUSE_UNAVAILABLE) from None
    try:
        wh.create_schema()
    except WarehouseLockedError:
        raise
    except ImportError as exc:
        raise CliError(f"cannot open the warehouse {wh.safe_url}: its database driver is not installed "
                       f"({exc.name or exc})", EXIT_WAREHOUSE_UNAVAILABLE) from None
    except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:  # cannot connect / open; not a schema bug
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise CliError(f"cannot open the warehouse {wh.safe_url}: {reason[0] if reason else type(exc).__name__}",
                       EXIT_WAREHOUSE_UNAVAILABLE) from None
    args._wh = wh
    return wh


def seed_symphonies(wh, files: list[Path], account_id: str, account_name: str | None = None) -> list[str]:
    """Register symphony files in ``account_id`` through the one registration path
    (:func:`warehouse.repos.symphonies.register`: ownership, activation limit, slug of the file name).

    Every file is parsed before anything is written, so one bad file registers none. The account is created if
    it does not exist. Returns the ids, in file order.

    Raises:
        engine.errors.SymphonyError: a file does not parse (names the file, node path and field).
        warehouse.repos.symphonies.OwnershipError: an id already belongs to another account (nothing is written:
            all files are registered in one transaction).
    """
    from engine.parsing import detect_format, load_symphony
    from warehouse.repos import symphonies as symphony_repo

    parsed = []
    for f in files:
        root = load_symphony(f)
        text = Path(f).read_text(encoding="utf-8-sig")
        parsed.append((Path(f), root, text))
    symphony_repo.ensure_account(wh, account_id, account_name)
    registered = symphony_repo.register_many(wh, account_id, [
        dict(symphony_id=symphony_repo.slug(f.stem), name=root.name, source_format=detect_format(text),
             source_text=text, parsed_json=root.model_dump_json(), rebalance=root.rebalance)
        for f, root, text in parsed])
    for reg in registered:
        if reg.at_limit:
            _err(f"warning: {reg.symphony_id} registered inactive: account '{account_id}' is at its limit of active "
                 "symphonies")
    ids = [reg.symphony_id for reg in registered]
    return ids


def cmd_seed(args) -> int:
    from engine.errors import SymphonyError
    from warehouse.repos.symphonies import OwnershipError

    roots = [_load(f) for f in args.files]  # every file checked before the warehouse is opened
    reader = _price_reader(args) if not args.no_data_check else None
    wh = _warehouse(args)
    try:
        ids = seed_symphonies(wh, [Path(f) for f in args.files], args.account)
    except (SymphonyError, OwnershipError, OSError) as exc:
        raise CliError(str(exc)) from None
    print(f"registered {len(ids)} symphonies for account {args.account}: {', '.join(ids)}")
    from orchestration.cli_admin import record_cli

    for sid in ids:   # the audit trail (issue 11): who seeded what, from the command line
        record_cli(wh, "symphony_uploaded", account_id=args.account, target=sid, detail="oragami seed")
    for f, sid, root in zip(args.files, ids, roots):
        lacking = _without_data(reader, root) if reader is not None else []
        if lacking:
            _err(f"warning: {sid} ({f}): no {reader.source} price data for {', '.join(lacking)}: it is registered "
                 "but will fail every session until those tickers have prices")
    return EXIT_OK


def _instance():
    from dagster import DagsterInstance

    if os.environ.get("DAGSTER_HOME"):
        Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
        return DagsterInstance.get()
    return DagsterInstance.ephemeral()


def run_daily(session: dt.date, instance=None, broker: str = "simulated", alpaca_url: str | None = None,
              prices: str | None = None) -> bool:
    """Execute the ``daily_trading`` job for one session in-process; True on success (of the job: a symphony that
    failed alone does not fail the job, :func:`failed_symphonies` lists those).

    ``prices``: the market-data source (``None``/``"bundled"``, ``"eodhd"``, ``"alpaca"`` or a local directory of
    prices, :func:`orchestration.definitions.market_data_resource`). A failed step is printed to standard error as
    ``  STEP: message`` (the lock's one line when a locked warehouse failed it).

    Raises:
        ValueError: ``session`` is not an NYSE session.
    """
    result = _execute_daily(session, instance, broker, alpaca_url, prices)
    _print_step_failures(result)
    return result.success


def _execute_daily(session: dt.date, instance, broker: str, alpaca_url: str | None, prices: str | None,
                   run_config: dict | None = None):
    """The ``daily_trading`` job's in-process result for ``session`` (``raise_on_error=False``; Dagster's console
    log at ``run_config``'s level, default :data:`QUIET`)."""
    from engine.calendar import is_session
    from orchestration import definitions

    if not is_session(session):
        raise ValueError(f"{session} is not an NYSE session")
    chosen = definitions.defs if broker == "simulated" and not alpaca_url and prices in (None, "bundled") else \
        definitions.build_definitions(broker=broker, alpaca_url=alpaca_url, market_data=prices or "bundled")
    job = chosen.resolve_job_def("daily_trading")
    return job.execute_in_process(partition_key=session.isoformat(), instance=instance or _instance(),
                                  raise_on_error=False, run_config=run_config or QUIET)


def _print_step_failures(result) -> bool:
    """Print each failed step of a job result (``  STEP: message``); True when a locked warehouse failed one."""
    locked = printed = False
    if not result.success:
        for event in result.all_events:
            if not event.is_failure or (printed and not event.step_key):  # the run's summary repeats the steps
                continue
            lock_line = _lock_error_line(event)
            locked = locked or lock_line is not None
            _err(f"  {event.step_key or 'run'}: {lock_line or _failure_text(event)}")
            printed = printed or bool(event.step_key)
    return locked


def _failure_text(event) -> str:
    """A failure event in one line: the error's own message (e.g. which blocking check failed) when it has one."""
    error = event.step_failure_data.error if event.is_step_failure and event.step_failure_data else None
    text = " ".join(error.message.strip().split()) if error is not None and error.message else ""
    text = text.split(": ", 1)[-1] if text.startswith(("dagster.", "dagster._")) else text
    return (text[:400] + "…" if len(text) > 400 else text) or event.message


def _lock_error_line(event) -> str | None:
    """The :class:`warehouse.WarehouseLockedError` line inside a step failure, if that is what failed it."""
    if not event.is_step_failure:
        return None
    error = event.step_failure_data.error
    while error is not None:
        if error.cls_name == "WarehouseLockedError":
            return "error: " + error.message.strip().split("WarehouseLockedError: ", 1)[-1]
        error = error.cause
    return None


def _plain_reason(reason: object) -> str:
    """A stored run reason without the Python class prefix (``"ValueError: no price …"`` -> ``"no price …"``)."""
    import re

    text = "" if reason is None or reason != reason else str(reason)
    return re.sub(r"^[A-Z][A-Za-z]*(Error|Exception): ", "", text) or "no reason recorded"


def failed_symphonies(wh, session: dt.date) -> pd.DataFrame:
    """The session's ``symphony_runs`` rows whose status is not ``ok`` (every account), failed first.

    Returns:
        Columns ``account_id, symphony_id, status`` (``failed`` or ``skipped``) and ``reason`` (the stored reason
        without a Python class prefix; it names the ticker, node or field at fault). Empty when all were ok.
    """
    runs = wh.read("symphony_runs", where={"session_date": session})
    cols = ["account_id", "symphony_id", "status", "reason"]
    if runs.empty:
        return pd.DataFrame(columns=cols)
    bad = runs[runs["status"] != "ok"].copy()
    bad["reason"] = [_plain_reason(r) for r in bad["reason"]]
    bad["_order"] = (bad["status"] != "failed").astype(int)
    return bad.sort_values(["_order", "account_id", "symphony_id"])[cols].reset_index(drop=True)


def _check_session(session: dt.date) -> None:
    """:class:`CliError` for a date outside the NYSE calendar, in the future, or not a session."""
    from engine.calendar import is_session, nyse

    cal = nyse()
    first, last = cal.first_session.date(), cal.last_session.date()
    if not first <= session <= last:
        raise CliError(f"--session {session}: outside the NYSE calendar ({first} to {last})")
    today = pd.Timestamp.now(tz="America/New_York").date()
    if session > today:
        raise CliError(f"--session {session}: in the future (today is {today} in New York)")
    if not is_session(session):
        raise CliError(f"--session {session}: not an NYSE session (a weekend or holiday)")


def cmd_run_daily(args) -> int:
    """``oragami run-daily --session D``: the daily_trading job for one session.

    Prints ``daily_trading D: …`` with the counts on standard output and each symphony that failed, with its
    reason, on standard error. Exit 0 when every symphony ran, :data:`EXIT_FINDINGS` when a symphony or a step
    failed, :data:`EXIT_WAREHOUSE_LOCKED` when a step met the locked warehouse, :data:`EXIT_USAGE` for a bad
    session date.
    """
    session = dt.date.fromisoformat(args.session)
    _check_session(session)
    if args.broker == "alpaca":   # a live or unknown endpoint is refused before anything runs
        from resources.alpaca_broker import check_paper_url

        try:
            check_paper_url(args.alpaca_url)
        except ValueError as exc:
            _err(f"error: --alpaca-url: {exc}")
            return EXIT_USAGE
    if args.prices in (None, "bundled"):
        from warehouse.bundled import last_session

        if session > last_session():
            raise CliError(f"--session {session}: after the last session of the bundled prices ({last_session()}); "
                           "give --prices eodhd, alpaca or a folder of prices that has it")
    wh = _warehouse(args)
    try:
        result = _execute_daily(session, None, args.broker, args.alpaca_url, args.prices,
                                run_config=QUIET if args.verbose else SILENT)
    except ValueError as exc:  # the market data or broker choice (e.g. a --prices folder that does not exist)
        raise CliError(f"--prices {args.prices}: {exc}" if "market data" in str(exc) else str(exc)) from None
    locked = _print_step_failures(result)
    if locked:
        print(f"daily_trading {session}: FAILED (the warehouse is locked)")
        return EXIT_WAREHOUSE_LOCKED
    evaluated = any(e.is_step_success and e.step_key == "target_allocations" for e in result.all_events)
    if not evaluated:  # the symphonies were not evaluated this time: their rows (if any) are an earlier run's
        print(f"daily_trading {session}: FAILED (a step failed, above); no symphony was evaluated")
        return EXIT_FINDINGS
    bad = failed_symphonies(wh, session)
    runs = wh.read("symphony_runs", where={"session_date": session})
    n_failed = int((bad["status"] == "failed").sum())
    n_skipped = int((bad["status"] == "skipped").sum())
    counts = f"{len(runs) - len(bad)} ok, {n_failed} failed, {n_skipped} skipped of {len(runs)} symphonies"
    for r in bad.to_dict("records"):
        label = "error" if r["status"] == "failed" else "note"
        _err(f"{label}: symphony {r['symphony_id']} (account {r['account_id']}) {r['status']} on {session}: "
             f"{r['reason']}")
    if not result.success:
        print(f"daily_trading {session}: FAILED (a step failed, above); {counts}")
        return EXIT_FINDINGS
    orders = wh.read("orders", where={"session_date": session}, columns=["account_id", "status", "reason"])
    unsent = orders[orders["status"] == "failed"]
    for account_id, group in unsent.groupby("account_id", sort=True):
        _err(f"error: account {account_id}: {len(group)} order(s) not placed on {session}: "
             f"{group['reason'].dropna().iloc[0] if group['reason'].notna().any() else 'no reason recorded'}")
    failed = n_failed or len(unsent)
    print(f"daily_trading {session}: {'success' if not failed else 'done with failures'}; {counts}"
          + (f"; {len(unsent)} order(s) not placed" if len(unsent) else ""))
    return EXIT_FINDINGS if failed else EXIT_OK


def summary_table(wh, account_id: str | None = None) -> pd.DataFrame:
    """One row per active symphony: latest holdings, backtest CAGR / Sharpe / max drawdown, paper NAV."""
    from warehouse import AccountScope
    from warehouse.repos import ledgers, symphonies as symphony_repo

    scope = AccountScope.of(account_id)
    syms = symphony_repo.active(wh, scope)
    alloc = ledgers.latest_allocations(wh, scope)
    runs = wh.read("backtest_runs")
    rows = []
    for s in syms.to_dict("records"):
        sid = s["symphony_id"]
        a = alloc[alloc["symphony_id"] == sid].sort_values("target_weight", ascending=False)
        holdings = ", ".join(f"{r['ticker']} {r['target_weight']:.0%}" for r in a.to_dict("records"))
        r = runs[runs["symphony_id"] == sid]
        r = r.sort_values("created_at").iloc[-1] if len(r) else None
        nav = ledgers.nav_history(wh, sid, scope)
        rows.append({
            "symphony": sid, "holdings": holdings or "-",
            "paper NAV": f"{nav['nav_usd'].iloc[-1]:,.2f}" if len(nav) else "-",
            "backtest": f"{r['start_date']}..{r['end_date']}" if r is not None else "-",
            "CAGR": f"{r['cagr']:.2%}" if r is not None else "-",
            "Sharpe": f"{r['sharpe']:.2f}" if r is not None else "-",
            "max DD": f"{r['max_drawdown']:.2%}" if r is not None else "-",
        })
    return pd.DataFrame(rows)


def cmd_demo(args) -> int:
    from engine.calendar import sessions_in_range
    from orchestration.definitions import defs
    from warehouse.bundled import last_session

    wh = _warehouse(args)
    files = [SYMPHONY_DIR / name for name in DEMO_SYMPHONIES]
    ids = seed_symphonies(wh, files, DEMO_ACCOUNT, "Demo account")
    print(f"[demo] warehouse {wh.safe_url}")
    print(f"[demo] seeded account '{DEMO_ACCOUNT}' with {len(ids)} symphonies: {', '.join(ids)}")
    last = last_session()
    sessions = sessions_in_range(last - dt.timedelta(days=2 * DEMO_SESSIONS), last)[-DEMO_SESSIONS:]
    replayed, traded = sessions[:-DEMO_GRAPH_SESSIONS], sessions[-DEMO_GRAPH_SESSIONS:]
    instance = _instance()
    t0 = time.time()
    from engine.replay import ReplayError
    from pipelines.replay import replay_range
    from resources import BundledMarketData, SimulatedBroker

    def progress(i: int, n: int, session: dt.date) -> None:
        if i == n or i % 63 == 0:
            print(f"[demo] replayed {i}/{n} sessions (through {session}) in {time.time() - t0:.1f}s", flush=True)

    try:   # the year's paper history in one process (same daily logic, batched writes)
        summary = replay_range(wh, BundledMarketData(), SimulatedBroker().cost_model(), replayed[0], replayed[-1],
                               [DEMO_ACCOUNT], progress=progress)
    except ReplayError as exc:
        _err(f"error: {exc}")
        return 1
    print(f"[demo] replay of {summary.sessions} sessions {summary.start}..{summary.end} in {time.time() - t0:.1f}s; "
          f"the daily graph trades the last {len(traded)}", flush=True)
    for i, session in enumerate(traded, start=1):
        t1 = time.time()
        ok = run_daily(session, instance)
        print(f"[demo] daily_trading {session} ({i}/{len(traded)}): {'ok' if ok else 'FAILED'} "
              f"in {time.time() - t1:.1f}s", flush=True)
        if not ok:
            return 1
    print(f"[demo] {len(sessions)} sessions of paper history in {time.time() - t0:.1f}s; backtesting every symphony "
          "from inception…", flush=True)
    t1 = time.time()
    result = defs.resolve_job_def("backtest_all").execute_in_process(instance=instance, raise_on_error=False,
                                                                           run_config=QUIET)
    print(f"[demo] backtests {'ok' if result.success else 'FAILED'} in {time.time() - t1:.1f}s")
    from dashboards.auth import create_user

    demo_password = os.environ.get("ORAGAMI_DEMO_PASSWORD", "oragami-demo")
    create_user(wh, DEMO_ACCOUNT, demo_password, "analyst", DEMO_ACCOUNT, is_demo=True)  # loopback only
    table = summary_table(wh, DEMO_ACCOUNT)
    with pd.option_context("display.max_colwidth", 60, "display.width", 200):
        print()
        print(f"Demo account, last session {sessions[-1]} (holdings = today's target weights)")
        print(table.to_string(index=False))
    from warehouse import AccountScope

    counts = wh.row_counts(AccountScope.all())
    print()
    print("warehouse rows: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print("next: `make dagster` (Dagster UI) and `make dashboard` (Streamlit; sign in as the local demo analyst "
          "'demo', password from ORAGAMI_DEMO_PASSWORD, default 'oragami-demo')")
    return 0 if result.success else 1


def _reader(args):
    """The price reader chosen by ``--prices`` (``bundled`` default, ``warehouse``, or a path)."""
    from warehouse.prices import close_reader

    source = getattr(args, "prices", None)
    return close_reader(source, warehouse=_warehouse(args) if source == "warehouse" else None)


def _known(reader, wanted: list[str]) -> tuple[list[str] | None, list[str]]:
    """``(tickers to read or None for all, tickers the source lacks)``."""
    if not wanted:
        return None, []
    have = reader.available_tickers()
    return [t for t in wanted if t in have], [t for t in wanted if t not in have]


def cmd_data_coverage(args) -> int:
    """``oragami data coverage``: per ticker first/last date, rows, interior gaps, source. Exit 0, or 2 when the
    source cannot be read or lacks a named ticker."""
    from engine.data_quality import coverage
    from engine.errors import DataError

    try:
        reader = _reader(args)
        names, lacking = _known(reader, [t.upper() for t in args.tickers])
        long = reader.long_closes(names)
    except DataError as exc:
        _err(f"error: {exc}")
        return 2
    per_ticker = getattr(reader, "ticker_source", None)
    table = coverage(long, source={t: per_ticker(t) for t in long["ticker"].unique()} if per_ticker
                     else reader.source)
    with pd.option_context("display.max_rows", None, "display.max_colwidth", 120, "display.width", 250):
        print(table.to_string(index=False) if len(table) else "no prices")
    print(f"{len(table)} tickers from {reader.source}, last session {reader.last_session()}")
    for t in lacking:
        _err(f"{t}: not in the {reader.source} data")
    return 2 if lacking else 0


def cmd_data_check(args) -> int:
    """``oragami data check``: data-quality findings (:mod:`engine.data_quality`). Exit 0 clean, 1 findings,
    2 usage error (unreadable source, unknown ticker or check name)."""
    from engine.data_quality import KINDS, check_closes
    from engine.errors import DataError

    kinds = [k for part in (args.kind or []) for k in part.split(",") if k] or list(KINDS)
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        _err(f"error: unknown check {', '.join(bad)} (choose from {', '.join(KINDS)})")
        return 2
    try:
        reader = _reader(args)
        names, lacking = _known(reader, [t.upper() for t in args.tickers])
        if lacking:
            _err(f"error: not in the {reader.source} data: {', '.join(lacking)}")
            return 2
        long = reader.long_closes(names)
        if not len(long):
            raise CliError(f"--prices {args.prices or 'bundled'}: the {reader.source} data has no prices (for the "
                           "warehouse: run `oragami run-daily` or `make demo` first)")
        report = check_closes(long, last_session=reader.last_session(), kinds=kinds)
    except DataError as exc:
        _err(f"error: {exc}")
        return 2
    counts = report.counts()
    print(f"{reader.source}: {len(report.tickers)} tickers checked, last session {report.last_session}: "
          + ", ".join(f"{counts[k]} {k}" for k in kinds))
    for f in report.findings:
        print(f"{f.kind:<12} {f.ticker:<6} {f.session_date}  {f.detail}")
    return 0 if report.clean else 1


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error: ``oragami CMD: error: WHAT (see 'oragami CMD --help')``, exit 2."""

    def error(self, message: str):  # noqa: D102 (argparse's contract: print and exit, never return)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _version() -> str:
    """The installed package's version (``oragami-composer``), or the pyproject's when not installed."""
    from importlib import metadata

    try:
        return metadata.version("oragami-composer")
    except metadata.PackageNotFoundError:
        import tomllib

        return tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["version"]


def build_parser() -> argparse.ArgumentParser:
    """The ``oragami`` parser: every subcommand and option with its help text (``oragami CMD --help``)."""
    p = _Parser(prog="oragami", description="Run Composer symphonies: validate, backtest, trade.",
                epilog="Exit codes: 0 ok, 1 findings (a symphony failed, tickers without data, data check), "
                       "2 usage or input error, 3 warehouse locked, 4 warehouse unavailable, 70 unexpected error "
                       "(ORAGAMI_DEBUG=1 for the traceback). Table: docs/cli.md.")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}",
                   help="print the installed version and exit")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", help="one of the commands below")
    file_help = "symphony file: Composer JSON score, EDN score or defsymphony text"
    prices_help = "price source: 'bundled' (default), 'warehouse', or a directory/file of CSV or Parquet prices"
    warehouse_help = "SQLAlchemy URL of the warehouse (default: ORAGAMI_WAREHOUSE_URL, else the DuckDB file)"
    no_check_help = "do not check the symphonies' tickers against the price source"

    v = sub.add_parser("validate", help="check symphony files (JSON score, EDN, defsymphony text)",
                       description="Parse each file and check its tickers have prices. Exit 0 ok, 1 a ticker "
                                   "has no data in the price source (warning), 2 a file does not parse.")
    v.add_argument("files", nargs="+", metavar="FILE", help=file_help)
    v.add_argument("--prices", help=prices_help + " (the tickers are checked against it)")
    v.add_argument("--warehouse", help=warehouse_help + " (with --prices warehouse)")
    v.add_argument("--no-data-check", action="store_true", help=no_check_help)
    v.set_defaults(func=cmd_validate)

    b = sub.add_parser("backtest", help="backtest a symphony on the bundled data; prints stats as JSON",
                       description="Backtest a symphony from its warm-up date (or --start) to the last session "
                                   "(or --end); stats as JSON on standard output.")
    b.add_argument("file", metavar="FILE", help=file_help)
    b.add_argument("--start", type=_iso_date, help="first session, ISO date YYYY-MM-DD (default: the warm-up date)")
    b.add_argument("--end", type=_iso_date,
                   help="last session, ISO date YYYY-MM-DD (default: the last session of the prices)")
    b.add_argument("--capital", type=_capital, default=10_000.0,
                   help=f"starting capital, USD, more than 0 and at most {MAX_CAPITAL_USD:,.0f} (default 10000)")
    b.add_argument("--slippage-bps", type=_slippage, default=1.0,
                   help="slippage on traded notional, bp, 0 to 10000 (default 1)")
    b.add_argument("--benchmark", default="SPY", help="benchmark ticker (default SPY)")
    b.add_argument("--no-reg-fee", action="store_true", help="do not charge the SEC fee on sells")
    b.add_argument("--no-taf-fee", action="store_true", help="do not charge the FINRA TAF on sells")
    b.add_argument("--no-cat-fee", action="store_true", help="do not charge the CAT fee on buys and sells")
    b.add_argument("--allow-missing-prices", action="store_true",
                   help="carry the last close forward where a held ticker has no price and list those sessions "
                        "in data_warnings (default: an error naming the ticker and the dates)")
    b.add_argument("--out", help="folder for daily_values.csv, weights.csv (targets), holdings.csv (day-end "
                                 "weights) and rebalances.csv (columns: README)")
    b.set_defaults(func=cmd_backtest)

    pa = sub.add_parser("parity", help="ours vs Composer, gap and tolerance, for every Composer ground truth",
                        description="Exit 0 when every check is within its tolerance, 1 otherwise.")
    pa.add_argument("--fixtures", help="folder of Composer ground truth (default tests/fixtures/composer)")
    pa.set_defaults(func=cmd_parity)

    x = sub.add_parser("export", help="write a symphony back as a Composer JSON score (or defsymphony text)")
    x.add_argument("file", metavar="FILE", help=file_help)
    x.add_argument("--format", choices=["json", "defsymphony"], default="json",
                   help="json (Composer's score, default) or defsymphony (the 'copy as code' text)")
    x.add_argument("--out", help="file to write (default: standard output)")
    x.set_defaults(func=cmd_export)

    e = sub.add_parser("explain", help="why a symphony holds what it holds on a date (decision trace)")
    e.add_argument("file", metavar="FILE", help=file_help)
    e.add_argument("--date", required=True, type=_iso_date,
                   help="ISO date (YYYY-MM-DD) of a session in the price data; required")
    e.add_argument("--json", action="store_true", help="print the trace as JSON (default: text)")
    e.set_defaults(func=cmd_explain)

    r = sub.add_parser("run-daily", help="run the daily_trading job for one session, in-process",
                       description="Evaluate, plan and trade every active symphony for one session. Exit 0 all "
                                   "ran, 1 a symphony or step failed (each printed with its reason), 2 bad "
                                   "session, 3 warehouse locked.")
    r.add_argument("--session", required=True, type=_iso_date,
                   help="ISO date of an NYSE session (YYYY-MM-DD); required")
    r.add_argument("--warehouse", help=warehouse_help)
    r.add_argument("--broker", choices=["simulated", "alpaca"], default="simulated",
                   help="simulated paper broker (offline, default) or Alpaca paper (keys from the environment)")
    r.add_argument("--alpaca-url", help="Alpaca paper API origin (default: Alpaca's paper endpoint); "
                                        "loopback fakes allowed, nothing else")
    r.add_argument("--verbose", "-v", action="store_true",
                   help="also show Dagster's event log (warnings and errors, with tracebacks) on standard error")
    r.set_defaults(func=cmd_run_daily)

    s = sub.add_parser("seed", help="register symphony files as active symphonies of an account",
                       description="Register the files (all or none) and warn about tickers without data in the "
                                   "price source; exit 0 when registered.")
    s.add_argument("files", nargs="+", metavar="FILE", help=file_help)
    s.add_argument("--account", default=DEMO_ACCOUNT, help=f"account id (created if new; default {DEMO_ACCOUNT})")
    s.add_argument("--warehouse", help=warehouse_help)
    s.add_argument("--prices", help=prices_help + " (the tickers are checked against it)")
    s.add_argument("--no-data-check", action="store_true", help=no_check_help)
    s.set_defaults(func=cmd_seed)

    d = sub.add_parser("demo", help="seed the demo account, replay the last 252 bundled sessions (the daily graph "
                                     "trades the last 2), backtest, summarise")
    d.add_argument("--warehouse", help=warehouse_help)
    d.set_defaults(func=cmd_demo)

    for cmd in (b, e):
        cmd.add_argument("--prices", help=prices_help)
    r.add_argument("--prices", help="market data for the daily graph: 'bundled' (default), 'eodhd', 'alpaca' or a "
                                    "directory/file of CSV or Parquet prices")
    data = sub.add_parser("data", help="the price data: coverage and quality checks")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="DATA_COMMAND",
                                   help="coverage or check")
    dc = data_sub.add_parser("coverage", help="first/last date, rows, interior gaps and source per ticker")
    dc.add_argument("tickers", nargs="*", help="tickers (default: every ticker of the source)")
    dc.set_defaults(func=cmd_data_coverage)
    dk = data_sub.add_parser("check", help="stale series, gaps, non-positive values and split-like jumps; "
                                           "exit 0 clean, 1 findings, 2 usage error")
    dk.add_argument("tickers", nargs="*", help="tickers (default: every ticker of the source)")
    dk.add_argument("--kind", action="append", help="only these checks (stale, gap, non_positive, jump; "
                                                    "comma-separated or repeated)")
    dk.set_defaults(func=cmd_data_check)
    for cmd in (dc, dk):
        cmd.add_argument("--prices", help=prices_help)
        cmd.add_argument("--warehouse", help="SQLAlchemy URL of the warehouse (with --prices warehouse)")
    for module in _command_modules():
        module.register(sub)
    return p


def _command_modules() -> list:
    """The CLI modules that add their own subcommands (each has ``register(subparsers)``), one per area."""
    from orchestration import cli_admin, cli_controls, cli_credentials, cli_replay, cli_research

    return [cli_admin, cli_credentials, cli_controls, cli_replay, cli_research]


#: Exit code when the DuckDB warehouse stayed locked by another process past ``ORAGAMI_LOCK_WAIT_S``.
EXIT_WAREHOUSE_LOCKED = 3


def main(argv: list[str] | None = None) -> int:
    """Run one ``oragami`` command; returns its exit code (module docstring, ``docs/cli.md``).

    A user's mistake is one ``error: …`` line on standard error (:class:`CliError`, a locked warehouse); argparse's
    own errors, ``--help`` and ``--version`` return their code instead of raising :class:`SystemExit`. Anything
    else is a bug: one line naming it and :data:`EXIT_INTERNAL`, or the traceback with ``ORAGAMI_DEBUG=1``.
    """
    from warehouse import WarehouseLockedError

    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # usage error (2), --help / --version (0)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        _err(f"error: {exc.message}")
        return exc.code
    except WarehouseLockedError as exc:  # one line, no traceback: who holds the file and what to do
        _err(f"error: {exc}")
        from resources.alerts import alert_warehouse_locked  # webhook / e-mail; prints nothing, never raises
        alert_warehouse_locked(str(exc), getattr(args, "command", None))
        return EXIT_WAREHOUSE_LOCKED
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except Exception as exc:
        if os.environ.get(ENV_DEBUG) == "1":
            raise
        text = str(exc).strip().splitlines()
        _err(f"error: unexpected {type(exc).__name__} in 'oragami {args.command}': {text[0] if text else ''} "
             f"(a bug: run with {ENV_DEBUG}=1 for the traceback)")
        return EXIT_INTERNAL


if __name__ == "__main__":
    raise SystemExit(main())
