"""Benchmark of the research tools (``make bench``): prints figures, asserts nothing.

1. A 100-configuration sweep of one corpus symphony over its whole bundled history (2007 → 2026):
   ``sector_surfing_rsi_bottom2.clj``, its filter's RSI window (20 values, 5..100 step 5) × its select-n (1..5),
   each configuration backtested once with Composer's default costs (1 bp slippage, SEC/TAF/CAT fees) on one
   shared indicator cache (:func:`engine.walkforward.run_grid`). CPU seconds (this process) and wall seconds.
2. The walk-forward over that grid (rolling 504-session in-sample windows, 126-session steps, Sharpe objective):
   window selection, stitched curve and stability (:func:`engine.walkforward.walk_forward`).
3. The overfitting figures of the 100 trials: PBO by CSCV with S = 16 (12,870 splits) and the deflated Sharpe
   ratio (:mod:`engine.overfitting`).

Usage: ``.venv/bin/python scripts/bench_research.py [--symphony FILE] [--windows 5,10,...] [--select 1,2,...]``.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.evaluate import IndicatorCache  # noqa: E402
from engine.model import tickers  # noqa: E402
from engine.overfitting import deflated_sharpe_of_trials, pbo_cscv  # noqa: E402
from engine.parsing import load_symphony  # noqa: E402
from engine.walkforward import ParamAxis, run_grid, walk_forward  # noqa: E402
from warehouse.bundled import load_adjusted_closes  # noqa: E402


def _timed(fn):
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c0, time.perf_counter() - w0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--symphony", default=str(ROOT / "symphonies" / "sector_surfing_rsi_bottom2.clj"))
    p.add_argument("--node", default="root/0/0", help="the filter node whose window and select-n are swept")
    p.add_argument("--windows", default=",".join(str(w) for w in range(5, 101, 5)))
    p.add_argument("--select", default="1,2,3,4,5")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    root = load_symphony(args.symphony)
    axes = [ParamAxis(args.node, "window", tuple(int(v) for v in args.windows.split(","))),
            ParamAxis(args.node, "select_n", tuple(int(v) for v in args.select.split(",")))]
    n = len(axes[0].values) * len(axes[1].values)
    closes = load_adjusted_closes(sorted(tickers(root) | {"SPY"}))
    print(f"research bench: {root.name!r}, {n} configurations ({axes[0].name} × {axes[1].name}), "
          f"{len(closes)} bundled sessions {closes.index[0].date()}..{closes.index[-1].date()}")
    grid, cpu, wall = _timed(lambda: run_grid(root, IndicatorCache(closes), axes, include_original=False,
                                              backtest={"capital": 10_000.0, "slippage_bps": 1.0}))
    print(f"1. sweep of {n} configurations, {grid.returns.index[0].date()}..{grid.returns.index[-1].date()} "
          f"({len(grid.returns)} common sessions): {cpu:.1f} s CPU, {wall:.1f} s wall "
          f"({cpu / n * 1000:.0f} ms CPU per backtest)")
    wf, cpu, wall = _timed(lambda: walk_forward(grid, is_sessions=504, oos_sessions=126, objective="sharpe"))
    print(f"2. walk-forward (rolling 504/126, Sharpe): {len(wf.windows)} windows in {cpu:.2f} s CPU, {wall:.2f} s "
          f"wall; stitched OOS CAGR {wf.oos_stats['annualized_rate_of_return']:.2%}, "
          f"Sharpe {wf.oos_stats['sharpe_ratio']:.2f}")
    pbo, cpu, wall = _timed(lambda: pbo_cscv(grid.returns, n_splits=16))
    print(f"3a. PBO (CSCV, S=16, {pbo.n_combinations} splits): {pbo.pbo:.1%} in {cpu:.2f} s CPU, {wall:.2f} s wall")
    dsr, cpu, wall = _timed(lambda: deflated_sharpe_of_trials(grid.returns))
    best = grid.configs.loc[dsr.best, "label"]
    print(f"3b. DSR of the best ({best}): {dsr.dsr:.1%} (SR {dsr.sr:.4f}/day vs SR0 {dsr.sr0:.4f}/day) in "
          f"{cpu:.3f} s CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
