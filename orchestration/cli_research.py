"""``oragami research`` subcommands: out-of-sample split, walk-forward, overfitting statistics (issue 13).

* ``oragami research oos FILE --oos-start D`` — the backtest's stats in sample, out of sample and whole (strategy
  and benchmark), as JSON.
* ``oragami research walk-forward FILE --param PATH:FIELD=V1,V2,… [--param …] --is N --oos K [--anchored]
  [--objective sharpe] [--min-trades M] [--pbo-splits S]`` — a walk-forward over the grid: windows, stitched OOS
  stats, parameter stability, PBO and DSR, as JSON (``--out DIR`` also writes ``windows.csv``, ``configs.csv``,
  ``oos_curve.csv``).
* ``oragami research add-study NAME`` — add a study key to the Dagster instance (``$DAGSTER_HOME``), as the UI's
  "Add partition" does, so ``walk_forward_job`` can be launched for it.

Prices come from ``--prices`` (``bundled`` by default), as for ``oragami backtest``. Mistakes (a bad ``--param``,
a node path that does not exist, too few sessions) exit 2 with one line naming what is wrong.
"""
from __future__ import annotations

import json
import math
import time


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def parse_param(text: str):
    """``"root/0/0:window=10,14,20"`` → :class:`engine.walkforward.ParamAxis`.

    Raises:
        orchestration.cli.CliError: not of the form ``PATH:FIELD=V1,V2,…`` or a value that is not a number.
    """
    from engine.walkforward import ParamAxis
    from orchestration.cli import CliError

    head, sep, vals = text.partition("=")
    path, sep2, field = head.rpartition(":")
    if not sep or not sep2 or not path or not field or not vals.strip():
        raise CliError(f"--param {text!r}: expected PATH:FIELD=V1,V2,... (e.g. root/0/0:window=10,14,20)")
    try:
        values = tuple(sorted({float(v) for v in vals.split(",") if v.strip()}))
    except ValueError:
        raise CliError(f"--param {text!r}: the values must be numbers separated by commas") from None
    return ParamAxis(path.strip(), field.strip(), values)


def _closes(args, root, benchmark: str):
    from engine.model import tickers
    from orchestration.cli import CliError, _reader

    need = sorted(tickers(root) | {benchmark})
    try:
        return _reader(args).closes(need, end=args.end)
    except (KeyError, ValueError, LookupError) as exc:
        raise CliError(f"prices: {exc}") from None


def _backtest_kwargs(args) -> dict:
    return dict(start=args.start, end=args.end, capital=args.capital, slippage_bps=args.slippage_bps,
                benchmark=args.benchmark)


def cmd_oos(args) -> int:
    """``oragami research oos``: the in-sample / out-of-sample / whole stats of one backtest, as JSON."""
    from engine.backtest import run_backtest
    from engine.errors import DataError
    from engine.oos import split_stats
    from orchestration.cli import CliError, _load

    root = _load(args.file)
    closes = _closes(args, root, args.benchmark)
    try:
        res = run_backtest(root, closes, **_backtest_kwargs(args))
        frame = split_stats(res.nav, args.oos_start, args.capital, res.benchmark_nav)
    except (DataError, ValueError) as exc:
        raise CliError(f"{args.file}: {exc}") from None
    out: dict = {"symphony": root.name, "oos_start": args.oos_start}
    for (segment, series), part in frame.groupby(["segment", "series"], sort=False):
        block = out.setdefault(segment, {})
        block[series] = {"start": str(part["start_date"].iloc[0]), "end": str(part["end_date"].iloc[0]),
                         **dict(zip(part["stat"], part["value"]))}
    print(json.dumps(_clean(out), indent=2))
    return 0


def cmd_walk_forward(args) -> int:
    """``oragami research walk-forward``: walk-forward over a grid, with stability, PBO and DSR, as JSON."""
    from assets.research import overfitting_figures
    from engine.errors import DataError
    from engine.walkforward import full_sample_objectives, run_grid, walk_forward
    from orchestration.cli import CliError, _load, _out_dir

    root = _load(args.file)
    axes = [parse_param(p) for p in args.param]
    closes = _closes(args, root, args.benchmark)
    t0 = time.perf_counter()
    try:
        grid = run_grid(root, closes, axes, backtest={**_backtest_kwargs(args), "apply_reg_fee": True,
                                                      "apply_taf_fee": True})
        wf = walk_forward(grid, is_sessions=args.is_sessions, oos_sessions=args.oos_sessions,
                          anchored=args.anchored, objective=args.objective, min_trades=args.min_trades)
    except (DataError, ValueError) as exc:
        raise CliError(f"{args.file}: {exc}") from None
    over = overfitting_figures(grid.returns, args.pbo_splits)
    full = full_sample_objectives(grid, wf.objective)
    windows = [{"window": int(r.window), "in_sample": f"{r.is_start.date()}..{r.is_end.date()}",
                "out_of_sample": f"{r.oos_start.date()}..{r.oos_end.date()}", "chosen": r.label,
                "is_objective": r.is_objective, "oos_objective": r.oos_objective, "oos_return": r.oos_return}
               for r in wf.windows.itertuples()]
    out = {"symphony": root.name, "configurations": len(grid.configs), "sessions": len(grid.returns),
           "first_session": str(grid.returns.index[0].date()), "last_session": str(grid.returns.index[-1].date()),
           "objective": wf.objective, "anchored": wf.anchored, "is_sessions": wf.is_sessions,
           "oos_sessions": wf.oos_sessions, "min_trades": wf.min_trades, "windows": windows,
           "oos_stats": {k: wf.oos_stats[k] for k in ("cumulative_return", "annualized_rate_of_return",
                                                      "sharpe_ratio", "max_drawdown", "calmar_ratio")},
           "stability": {"choice_frequency": wf.choice_frequency.to_dict("records"),
                         "mean_relative_drop": wf.stability_summary()},
           "overfitting": over, "full_sample_best": grid.configs.loc[int(full.idxmax()), "label"]
           if full.notna().any() else None, "seconds": round(time.perf_counter() - t0, 2)}
    print(json.dumps(_clean(out), indent=2, default=str))
    if args.out:
        outdir = _out_dir(args.out)
        wf.windows.to_csv(outdir / "windows.csv", index=False)
        grid.configs.drop(columns=["params"]).assign(objective=full.to_numpy()).to_csv(outdir / "configs.csv",
                                                                                       index=False)
        wf.oos_growth.rename_axis("date").to_csv(outdir / "oos_curve.csv")
    return 0


def cmd_add_study(args) -> int:
    """``oragami research add-study NAME``: add a study partition key to the Dagster instance."""
    from orchestration.cli import CliError, _instance
    from pipelines.research import add_study

    try:
        added = add_study(_instance(), args.name)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    print(f"study {args.name!r} {'added' if added else 'already exists'}")
    return 0


def register(sub) -> None:
    """Add this module's subcommands to the ``oragami`` parser's subparsers ``sub``."""
    from orchestration.cli import _capital, _iso_date, _slippage

    r = sub.add_parser("research", help="out-of-sample split, walk-forward, overfitting statistics")
    rs = r.add_subparsers(dest="research_command", required=True, help="one of the research commands below")

    def common(p):
        p.add_argument("file", help="symphony file (JSON score, EDN or defsymphony text)")
        p.add_argument("--start", type=_iso_date, help="first session, YYYY-MM-DD (default: the warm-up date)")
        p.add_argument("--end", type=_iso_date, help="last session, YYYY-MM-DD (default: the last bar of the prices)")
        p.add_argument("--capital", type=_capital, default=10_000.0, help="starting capital, USD (default 10000)")
        p.add_argument("--slippage-bps", type=_slippage, default=1.0,
                       help="slippage on traded notional, bp, 0 to 10000 (default 1)")
        p.add_argument("--benchmark", default="SPY", help="benchmark ticker (default SPY)")
        p.add_argument("--prices", help="price source: 'bundled' (default), 'warehouse', or a directory/file")

    o = rs.add_parser("oos", help="stats in sample, out of sample and whole, as JSON")
    common(o)
    o.add_argument("--oos-start", type=_iso_date, required=True,
                   help="first out-of-sample session, YYYY-MM-DD; required")
    o.set_defaults(func=cmd_oos)

    w = rs.add_parser("walk-forward", help="walk-forward over a parameter grid; stability, PBO and DSR as JSON")
    common(w)
    w.add_argument("--param", action="append", required=True,
                   help="PATH:FIELD=V1,V2,... e.g. root/0/0:window=10,14,20 (fields: window, lhs_window, "
                        "rhs_window, threshold, select_n); repeat for a grid")
    w.add_argument("--is", dest="is_sessions", type=int, default=504, help="in-sample window, sessions (default 504)")
    w.add_argument("--oos", dest="oos_sessions", type=int, default=126,
                   help="out-of-sample step, sessions (default 126)")
    w.add_argument("--anchored", action="store_true", help="anchored in-sample windows (default rolling)")
    w.add_argument("--objective", default="sharpe",
                   help="sharpe (default), annualized_return, calmar or a Composer stat key (e.g. sortino_ratio)")
    w.add_argument("--min-trades", type=int, default=0,
                   help="least allocation changes in an in-sample window, a count (default 0)")
    w.add_argument("--pbo-splits", type=int, default=16,
                   help="CSCV submatrices S for the PBO, an even count (default 16)")
    w.add_argument("--out", help="folder for windows.csv, configs.csv, oos_curve.csv")
    w.set_defaults(func=cmd_walk_forward)

    a = rs.add_parser("add-study", help="add a walk-forward study partition key to the Dagster instance")
    a.add_argument("name", help="the study's name (letters, digits, dashes)")
    a.set_defaults(func=cmd_add_study)
