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
#: Sessions of paper history ``oragami demo`` builds (a year), and how many of the last ones the daily graph trades
#: itself; the earlier ones are replayed (``oragami replay``, :func:`pipelines.replay.replay_range`).
DEMO_SESSIONS = 252
DEMO_GRAPH_SESSIONS = 2


def _err(msg: str) -> None:
    print(msg, file=sys.stderr)


def cmd_validate(args) -> int:
    from engine.errors import SymphonyError
    from engine.model import iter_nodes, tickers
    from engine.parsing import load_symphony

    bad = 0
    for f in args.files:
        try:
            root = load_symphony(f)
        except FileNotFoundError:
            _err(f"{f}: no such file")
            bad += 1
            continue
        except OSError as exc:  # a directory, no permission, ...: a message, not a traceback
            _err(f"{f}: cannot read: {exc.strerror or exc}")
            bad += 1
            continue
        except SymphonyError as exc:
            _err(str(exc) if exc.source else f"{f}: {exc}")
            bad += 1
            continue
        n_nodes = sum(1 for _ in iter_nodes(root))
        print(f"{f}: ok — {root.name!r}, rebalance {root.rebalance}, {n_nodes} nodes, "
              f"tickers {', '.join(sorted(tickers(root)))}")
    return 2 if bad else 0


def cmd_backtest(args) -> int:
    from engine.backtest import run_backtest
    from engine.errors import DataError, SymphonyError
    from engine.model import tickers
    from engine.parsing import load_symphony
    from warehouse.prices import close_reader

    try:
        root = load_symphony(args.file)
    except SymphonyError as exc:
        _err(str(exc))
        return 2
    need = sorted(tickers(root) | {args.benchmark})
    try:
        closes = close_reader(args.prices).closes(need, end=args.end)
    except DataError as exc:
        _err(f"{args.file}: {exc}")
        return 2
    try:
        res = run_backtest(root, closes, start=args.start, end=args.end, capital=args.capital,
                           slippage_bps=args.slippage_bps, apply_reg_fee=not args.no_reg_fee,
                           apply_taf_fee=not args.no_taf_fee, apply_cat_fee=not args.no_cat_fee,
                           benchmark=args.benchmark, allow_missing_prices=args.allow_missing_prices)
    except DataError as exc:
        _err(f"{args.file}: {exc}")
        return 2
    out = {"symphony": root.name, "first_day": res.first_day.date().isoformat(),
           "last_day": res.last_day.date().isoformat(), "capital": args.capital, "slippage_bps": args.slippage_bps,
           "final_value": round(float(res.nav.iloc[-1]), 2), "rebalances": int(res.rebalanced.sum()),
           "costs": {k: round(float(v), 2) for k, v in res.costs_summary.items()},
           "stats": {k: (None if v != v else round(v, 6)) for k, v in res.full_stats.items()},
           "benchmark": {"ticker": args.benchmark,
                         "stats": {k: (None if v != v else round(v, 6)) for k, v in (res.benchmark_stats or {}).items()
                                   if k in ("cumulative_return", "annualized_return", "sharpe_ratio", "max_drawdown")}},
           "data_warnings": res.data_warnings, "warnings": res.warnings}
    print(json.dumps(out, indent=2))
    if args.out:
        outdir = Path(args.out)
        outdir.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"date": res.nav.index.date, "value": res.nav.round(6).to_numpy(),
                      "daily_return": res.daily_return.to_numpy()}).to_csv(outdir / "daily_values.csv", index=False)
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
        _err(f"wrote {outdir / 'daily_values.csv'}, weights.csv, holdings.csv and rebalances.csv")
    return 0


def cmd_parity(args) -> int:
    """Print ours vs Composer for every ground truth in ``tests/fixtures/composer`` (:mod:`engine.parity`).

    Exit 0 when every check is within its tolerance, 1 otherwise.
    """
    from engine.parity import format_report, run_parity
    from warehouse.bundled import load_adjusted_closes

    fixtures = Path(args.fixtures) if args.fixtures else PROJECT_ROOT / "tests" / "fixtures" / "composer"
    results = run_parity(fixtures, SYMPHONY_DIR, load_adjusted_closes)
    print(format_report(results))
    return 0 if all(g.ok or g.skipped for g in results) else 1


def cmd_export(args) -> int:
    from engine.errors import SymphonyError
    from engine.export import export_symphony

    try:
        text = export_symphony(args.file, fmt=args.format)
    except SymphonyError as exc:
        _err(str(exc))
        return 2
    if args.out:
        Path(args.out).write_text(text)
        _err(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_explain(args) -> int:
    from engine.errors import DataError, SymphonyError
    from engine.evaluate import evaluate
    from engine.model import tickers
    from engine.parsing import load_symphony
    from warehouse.prices import close_reader

    try:
        root = load_symphony(args.file)
        reader = close_reader(args.prices)
        closes = reader.closes(sorted(tickers(root)), end=args.date)
        ev = evaluate(root, closes)
        day = pd.Timestamp(args.date)
        if day not in ev.sessions:
            raise DataError(f"{args.date} is not a session of the {reader.source} data (last one on or before it: "
                            f"{ev.sessions[ev.sessions <= day][-1].date() if (ev.sessions <= day).any() else 'none'})")
        trace = ev.trace(day)
        weights = ev.weights_on(day)
    except (SymphonyError, DataError, KeyError) as exc:
        _err(f"{args.file}: {exc.args[0] if isinstance(exc, KeyError) else exc}")
        return 2
    if args.json:
        print(json.dumps({"symphony": root.name, "date": args.date, "valid": bool(ev.valid.loc[day]),
                          "weights": weights, "trace": trace}, indent=2))
        return 0
    print(f"{root.name} on {args.date}" + ("" if ev.valid.loc[day] else "  (WARNING: warm-up not complete)"))
    for entry in trace:
        depth = entry["node_path"].count("/")
        print(f"{'  ' * depth}{entry['node_path']} {entry['node_type']}: {entry['summary']}")
        if entry["node_type"] == "if" and len(entry["detail"]["comparisons"]) > 1:
            for c in entry["detail"]["comparisons"]:
                print(f"{'  ' * (depth + 1)}{c['lhs']}={c['lhs_value']} {c['comparator']} {c['rhs']}={c['rhs_value']}"
                      f" -> {c['result']}")
    print("target weights: " + ", ".join(f"{t} {w:.2%}" for t, w in sorted(weights.items(), key=lambda kv: -kv[1])))
    return 0


def _warehouse(args):
    from warehouse import Warehouse

    if getattr(args, "warehouse", None):
        os.environ["ORAGAMI_WAREHOUSE_URL"] = args.warehouse
    wh = Warehouse.from_settings()
    wh.create_schema()
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

    wh = _warehouse(args)
    try:
        ids = seed_symphonies(wh, [Path(f) for f in args.files], args.account)
    except (SymphonyError, OwnershipError, OSError) as exc:
        _err(f"error: {exc}")
        return 2
    print(f"registered {len(ids)} symphonies for account {args.account}: {', '.join(ids)}")
    return 0


def _instance():
    from dagster import DagsterInstance

    if os.environ.get("DAGSTER_HOME"):
        Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
        return DagsterInstance.get()
    return DagsterInstance.ephemeral()


def run_daily(session: dt.date, instance=None, broker: str = "simulated", alpaca_url: str | None = None,
              prices: str | None = None) -> bool:
    """Execute the ``daily_trading`` job for one session in-process; True on success.

    ``prices``: the market-data source (``None``/``"bundled"``, ``"eodhd"``, ``"alpaca"`` or a local directory of
    prices, :func:`orchestration.definitions.market_data_resource`)."""
    from engine.calendar import is_session
    from orchestration import definitions

    if not is_session(session):
        raise ValueError(f"{session} is not an NYSE session")
    chosen = definitions.defs if broker == "simulated" and not alpaca_url and prices in (None, "bundled") else \
        definitions.build_definitions(broker=broker, alpaca_url=alpaca_url, market_data=prices or "bundled")
    job = chosen.resolve_job_def("daily_trading")
    result = job.execute_in_process(partition_key=session.isoformat(), instance=instance or _instance(),
                                    raise_on_error=False, run_config=QUIET)
    if not result.success:
        for event in result.all_events:
            if event.is_failure:
                _err(f"  {event.step_key or 'run'}: {_lock_error_line(event) or event.message}")
    return result.success


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


def cmd_run_daily(args) -> int:
    _warehouse(args)
    session = dt.date.fromisoformat(args.session)
    try:
        ok = run_daily(session, broker=args.broker, alpaca_url=args.alpaca_url, prices=args.prices)
    except ValueError as exc:
        _err(str(exc))
        return 2
    print(f"daily_trading {session}: {'success' if ok else 'FAILED'}")
    return 0 if ok else 1


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
    create_user(wh, DEMO_ACCOUNT, demo_password, "analyst", DEMO_ACCOUNT)
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
        report = check_closes(reader.long_closes(names), last_session=reader.last_session(), kinds=kinds)
    except DataError as exc:
        _err(f"error: {exc}")
        return 2
    counts = report.counts()
    print(f"{reader.source}: {len(report.tickers)} tickers checked, last session {report.last_session}: "
          + ", ".join(f"{counts[k]} {k}" for k in kinds))
    for f in report.findings:
        print(f"{f.kind:<12} {f.ticker:<6} {f.session_date}  {f.detail}")
    return 0 if report.clean else 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="oragami", description="Run Composer symphonies: validate, backtest, trade.")
    sub = p.add_subparsers(dest="command", required=True)

    v = sub.add_parser("validate", help="check symphony files (JSON score, EDN, defsymphony text)")
    v.add_argument("files", nargs="+")
    v.set_defaults(func=cmd_validate)

    b = sub.add_parser("backtest", help="backtest a symphony on the bundled data; prints stats as JSON")
    b.add_argument("file")
    b.add_argument("--start", help="first session (ISO date); default: the warm-up date")
    b.add_argument("--end", help="last session (ISO date); default: the last bundled session")
    b.add_argument("--capital", type=float, default=10_000.0, help="starting capital, USD (default 10000)")
    b.add_argument("--slippage-bps", type=float, default=1.0, help="slippage on traded notional, bp (default 1)")
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

    pa = sub.add_parser("parity", help="ours vs Composer, gap and tolerance, for every Composer ground truth")
    pa.add_argument("--fixtures", help="folder of Composer ground truth (default tests/fixtures/composer)")
    pa.set_defaults(func=cmd_parity)

    x = sub.add_parser("export", help="write a symphony back as a Composer JSON score (or defsymphony text)")
    x.add_argument("file")
    x.add_argument("--format", choices=["json", "defsymphony"], default="json")
    x.add_argument("--out", help="file to write (default: standard output)")
    x.set_defaults(func=cmd_export)

    e = sub.add_parser("explain", help="why a symphony holds what it holds on a date (decision trace)")
    e.add_argument("file")
    e.add_argument("--date", required=True, help="ISO date of a session in the bundled data")
    e.add_argument("--json", action="store_true", help="print the trace as JSON")
    e.set_defaults(func=cmd_explain)

    r = sub.add_parser("run-daily", help="run the daily_trading job for one session, in-process")
    r.add_argument("--session", required=True, help="ISO date of an NYSE session")
    r.add_argument("--warehouse", help="SQLAlchemy URL of the warehouse")
    r.add_argument("--broker", choices=["simulated", "alpaca"], default="simulated",
                   help="simulated paper broker (offline, default) or Alpaca paper (keys from the environment)")
    r.add_argument("--alpaca-url", help="Alpaca paper API origin (default: Alpaca's paper endpoint); "
                                        "loopback fakes allowed, nothing else")
    r.set_defaults(func=cmd_run_daily)

    s = sub.add_parser("seed", help="register symphony files as active symphonies of an account")
    s.add_argument("files", nargs="+")
    s.add_argument("--account", default=DEMO_ACCOUNT)
    s.add_argument("--warehouse", help="SQLAlchemy URL of the warehouse")
    s.set_defaults(func=cmd_seed)

    d = sub.add_parser("demo", help="seed the demo account, replay the last 252 bundled sessions (the daily graph trades the last 2), backtest, summarise")
    d.add_argument("--warehouse", help="SQLAlchemy URL of the warehouse")
    d.set_defaults(func=cmd_demo)

    prices_help = "price source: 'bundled' (default), 'warehouse', or a directory/file of CSV or Parquet prices"
    for cmd in (b, e):
        cmd.add_argument("--prices", help=prices_help)
    r.add_argument("--prices", help="market data for the daily graph: 'bundled' (default), 'eodhd', 'alpaca' or a "
                                    "directory/file of CSV or Parquet prices")
    data = sub.add_parser("data", help="the price data: coverage and quality checks")
    data_sub = data.add_subparsers(dest="data_command", required=True)
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
    from warehouse import WarehouseLockedError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except WarehouseLockedError as exc:  # one line, no traceback: who holds the file and what to do
        _err(f"error: {exc}")
        return EXIT_WAREHOUSE_LOCKED


if __name__ == "__main__":
    raise SystemExit(main())
