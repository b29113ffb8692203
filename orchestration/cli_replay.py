"""``oragami`` subcommands: replay of the live path over many sessions (issue 12).

    oragami replay --from D1 --to D2 [--account ID ...] [--sizing exact|buffered] [--prices P] [--warehouse URL]

Runs the daily logic (targets → netted orders → simulated fills → ledgers → NAV) for every NYSE session of
``[D1, D2]`` in this one process (:func:`pipelines.replay.replay_range`) and writes every session's rows in one
transaction, replacing those sessions of the replayed accounts. The live controls (``oragami controls``) act as in
the daily graph; every session on which one sells to cash, ends or skips a rebalance is printed. Exit 0 on success,
2 on a usage error (bad date, unknown account, a range past the last bar), 3 when the DuckDB file is locked.
"""
from __future__ import annotations

import datetime as dt
import sys
import time


def _date(text: str) -> dt.date:
    import argparse

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from None


def cmd_replay(args) -> int:
    """``oragami replay``: replay the range and print progress, timings and the last NAV of each symphony."""
    from engine.replay import ReplayError
    from orchestration.cli import _warehouse
    from orchestration.definitions import market_data_resource
    from pipelines.replay import control_events, replay_range
    from resources import SimulatedBroker

    wh = _warehouse(args)
    try:
        market_data = market_data_resource(args.prices or "bundled")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    costs = SimulatedBroker(slippage_bps=args.slippage_bps).cost_model()
    started, cpu = time.perf_counter(), time.process_time()
    step = max(1, args.progress_every)

    def progress(i: int, n: int, session: dt.date) -> None:
        if i == 1 or i == n or i % step == 0:
            print(f"[replay] {i}/{n} sessions (through {session}) {time.perf_counter() - started:.1f}s", flush=True)

    try:
        summary = replay_range(wh, market_data, costs, args.start, args.end, args.account or None,
                               sizing=args.sizing, traces=not args.no_traces, progress=progress,
                               log=lambda m: print(f"[replay] {m}", flush=True) if args.verbose else None)
    except ReplayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    steps = ", ".join(f"{k} {v:.1f}s" for k, v in summary.timings.items())
    print(f"[replay] {summary.sessions} sessions {summary.start}..{summary.end}, {summary.symphonies} symphonies in "
          f"{len(summary.accounts)} account(s) ({', '.join(summary.accounts)}), sizing {args.sizing}: "
          f"{wall:.1f}s wall, {cpu:.1f}s CPU ({steps}); {sum(summary.rows.values())} rows written")
    for line in control_events(summary.result):
        print(f"[replay] live control {line}")
    last = [r for r in summary.result.daily_nav if r["session_date"] == summary.end]
    for r in sorted(last, key=lambda r: (r["account_id"], r["symphony_id"])):
        print(f"  {r['account_id']:>12} {r['symphony_id']:<45} NAV {r['nav_usd']:>12,.2f}")
    return 0


def register(sub) -> None:
    """Add this module's subcommands to the ``oragami`` parser's subparsers ``sub``."""
    from engine.replay import EXACT, SIZINGS

    p = sub.add_parser("replay", help="replay the live path (targets, netted orders, simulated fills, ledgers, NAV) "
                                      "over a date range in one process")
    p.add_argument("--from", dest="start", type=_date, required=True, help="first session, YYYY-MM-DD; required")
    p.add_argument("--to", dest="end", type=_date, required=True, help="last session, YYYY-MM-DD, inclusive; required")
    p.add_argument("--account", action="append", help="replay this account only (repeat for several; default: "
                                                      "every account with an active symphony)")
    p.add_argument("--sizing", choices=SIZINGS, default=EXACT,
                   help="'exact': size every trade with the simulated broker's known costs, as the backtest does "
                        "(paper = backtest); 'buffered': the daily graph's planner (10 bp cost buffer, notional "
                        "buys floored to the cent); default exact")
    p.add_argument("--slippage-bps", type=float, default=1.0,
                   help="slippage of the simulated fills on traded notional, bp (default 1)")
    p.add_argument("--prices", help="market data: 'bundled' (default), 'eodhd', 'alpaca' or a directory/file of "
                                    "CSV or Parquet prices")
    p.add_argument("--no-traces", action="store_true", help="do not store the decision traces (faster)")
    p.add_argument("--progress-every", type=int, default=21, help="print progress every N sessions (default 21)")
    p.add_argument("--verbose", action="store_true", help="also print the bar ingestion (daily price bars loaded)")
    p.add_argument("--warehouse",
                   help="SQLAlchemy URL of the warehouse (default: ORAGAMI_WAREHOUSE_URL, else the DuckDB file "
                        "ORAGAMI_DUCKDB_PATH or ./var/oragami.duckdb)")
    p.set_defaults(func=cmd_replay)
