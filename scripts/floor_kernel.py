"""The floor: one reference symphony backtested by hand in plain NumPy and TA-Lib, for ``make bench``'s ratio.

The reference is ``symphonies/sector_surfing_rsi_bottom2.clj`` ("Sector Surfing": every day hold, equally, the two
of SPY, VEA, EEM, TLT, GLD, VNQ with the lowest 14-day RSI; ties to the earlier ticker), at zero cost (no
slippage, no fee), daily rebalanced at the close from the first session on which all six RSIs exist (or
``start``, whichever is later). Nothing of the engine is used: the RSI is TA-Lib's (Wilder, on each ticker's run
of closes), the selection a stable argsort, and the value

    V_first = capital,   V_t = V_{t−1} · Σ_k w_{t−1,k} · P_{t,k} / P_{t−1,k}

(a portfolio rebalanced to ``w`` at each close earns the weighted price relatives to the next close). It is what
no general engine can beat on this symphony: one pass of vector operations, no tree, no costs, no bookkeeping.
:func:`floor_nav` is checked against the engine's zero-cost NAV by ``scripts/bench.py`` (relative difference
printed; ~1e-14 expected, rounding only) and by ``tests/engine/test_kernel.py``.

Run alone: ``.venv/bin/python scripts/floor_kernel.py`` prints the floor's CPU time, the engine's warm backtest
CPU time of the same symphony and their ratio.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import talib

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "symphonies" / "sector_surfing_rsi_bottom2.clj"
TICKERS = ("SPY", "VEA", "EEM", "TLT", "GLD", "VNQ")   # the filter's children, in tree order
RSI_WINDOW = 14
SELECT_N = 2


def floor_nav(closes: np.ndarray, first_allowed: int = 0, capital: float = 10_000.0) -> tuple[int, np.ndarray]:
    """Zero-cost NAV of the reference symphony on a (T, 6) close matrix (columns in :data:`TICKERS` order).

    Args:
        closes: adjusted closes, dollars, NaN before a ticker's first close (no interior gaps).
        first_allowed: the first row the backtest may start on (the requested start).
        capital: starting value, USD.

    Returns:
        ``(first, nav)``: the first backtest row (first row ≥ ``first_allowed`` with all six RSIs) and the NAV,
        shape (T − first,), USD.

    Raises:
        ValueError: no row has all six RSIs.
    """
    T, K = closes.shape
    rsi = np.full((T, K), np.nan)
    for k in range(K):
        x = closes[:, k]
        rows = np.flatnonzero(~np.isnan(x))
        if rows.size:
            rsi[rows[0]:rows[-1] + 1, k] = talib.RSI(x[rows[0]:rows[-1] + 1], timeperiod=RSI_WINDOW)
    valid = np.isfinite(rsi).all(axis=1) & np.isfinite(closes).all(axis=1)
    valid[:first_allowed] = False
    if not valid.any():
        raise ValueError("no session with all six RSIs")
    first = int(np.argmax(valid))
    order = np.argsort(rsi[first:], axis=1, kind="stable")[:, :SELECT_N]   # bottom 2, ties to the earlier
    w = np.zeros((T - first, K))
    np.put_along_axis(w, order, 1.0 / SELECT_N, axis=1)
    rel = closes[first + 1:] / closes[first:-1]
    growth = np.einsum("ij,ij->i", w[:-1], rel)
    return first, capital * np.concatenate(([1.0], np.cumprod(growth)))


def load(start: str = "2007-01-03") -> tuple[pd.DatetimeIndex, np.ndarray, int]:
    """The six tickers' bundled closes (sessions, (T, 6) matrix, row of ``start``)."""
    sys.path.insert(0, str(ROOT))
    from warehouse.bundled import load_adjusted_closes

    frame = load_adjusted_closes(list(TICKERS))[list(TICKERS)]
    return frame.index, frame.to_numpy(dtype="float64"), int(frame.index.searchsorted(pd.Timestamp(start)))


def best_cpu(fn, repeat: int = 20) -> float:
    """Best CPU seconds (``time.process_time``) of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def compare(start: str = "2007-01-03", repeat: int = 20) -> dict[str, float]:
    """Floor vs engine on the reference symphony: CPU seconds of each (best of ``repeat``; the engine's is a
    warm :func:`engine.backtest.run_backtest` at zero cost with a fresh indicator cache and sub-strategy store,
    and at Composer's default costs), their ratio, and the max relative NAV difference at zero cost."""
    sys.path.insert(0, str(ROOT))
    from engine.backtest import run_backtest
    from engine.costs import CostModel
    from engine.evaluate import IndicatorCache, SubStrategyStore
    from engine.parsing import load_symphony

    sessions, closes, lo = load(start)
    frame = pd.DataFrame(closes, index=sessions, columns=list(TICKERS))
    root = load_symphony(REFERENCE)

    def ours(costs):
        return run_backtest(root, IndicatorCache(frame, substrategies=SubStrategyStore()), start=start, costs=costs)

    free = ours(CostModel.frictionless())
    first, nav = floor_nav(closes, lo)
    assert sessions[first] == free.first_day and len(nav) == len(free.nav)
    rel = float(np.max(np.abs(nav - free.nav.to_numpy()) / free.nav.to_numpy()))
    floor_s = best_cpu(lambda: floor_nav(closes, lo), repeat)
    ours_free = best_cpu(lambda: ours(CostModel.frictionless()), max(3, repeat // 4))
    ours_costs = best_cpu(lambda: ours(CostModel()), max(3, repeat // 4))
    return {"sessions": float(len(nav)), "floor_s": floor_s, "ours_zero_cost_s": ours_free,
            "ours_default_costs_s": ours_costs, "ratio_zero_cost": ours_free / floor_s,
            "ratio_default_costs": ours_costs / floor_s, "max_rel_nav_diff": rel}


def main() -> int:
    r = compare()
    print(f"floor kernel ({REFERENCE.name}, {int(r['sessions'])} sessions, plain NumPy + TA-Lib, zero cost): "
          f"{r['floor_s'] * 1e3:.2f} ms CPU; ours warm {r['ours_zero_cost_s'] * 1e3:.1f} ms at zero cost "
          f"({r['ratio_zero_cost']:.1f}x the floor), {r['ours_default_costs_s'] * 1e3:.1f} ms with 1 bp + fees "
          f"({r['ratio_default_costs']:.1f}x); NAV agreement at zero cost: max relative difference "
          f"{r['max_rel_nav_diff']:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
