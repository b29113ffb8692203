"""In-sample / out-of-sample split of one backtest (Composer's "out-of-sample" view).

Composer marks a symphony's out-of-sample (OOS) start at its last logic edit: every session before it was seen
(and possibly tuned on) by the author, every session on or after it was not. :func:`split_stats` reports the
whole backtest, the in-sample part and the out-of-sample part side by side, for the strategy and its
benchmark, with Composer's full stat set (:func:`engine.metrics.full_stats`, fractions).

Segments (sessions of the backtest NAV, ascending):

* ``in_sample`` — the sessions before ``oos_start``; measured from the starting capital like the whole
  backtest (its first value is after the first day's costs).
* ``out_of_sample`` — the sessions on or after ``oos_start``; measured from the last in-sample value (the
  money the strategy had when the OOS period began), so the first OOS daily return is
  ``V(first OOS session) / V(last IS session) − 1`` and the OOS ``size`` counts every OOS session. Without in-sample sessions (OOS start on or before the first
  session) it is the whole backtest, from the capital.
* ``full`` — the whole backtest.

The benchmark is split the same way (on the same sessions). Drawdowns are per segment: the OOS drawdown is
measured from the OOS start's value, not from the in-sample peak.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from engine.metrics import drawdown_series, full_stats

SEGMENTS: tuple[str, ...] = ("in_sample", "out_of_sample", "full")
SERIES: tuple[str, ...] = ("strategy", "benchmark")


def _as_ts(day) -> pd.Timestamp:
    if isinstance(day, str):
        try:
            return pd.Timestamp(dt.date.fromisoformat(day))
        except ValueError:
            raise ValueError(f"out-of-sample start {day!r} is not an ISO date (YYYY-MM-DD)") from None
    if isinstance(day, dt.datetime):
        return pd.Timestamp(day.date())
    return pd.Timestamp(day).normalize()


def segment_navs(nav: pd.Series, oos_start, capital: float) -> dict[str, tuple[pd.Series, float]]:
    """Each segment's NAV and the value it is measured from.

    Args:
        nav: daily values (USD), index = sessions ascending.
        oos_start: the first out-of-sample day (date-like or ISO text); a non-session day means the next session.
        capital: the starting capital of the backtest (USD).

    Returns:
        ``{segment: (nav, start_value)}`` for the segments that have at least one session (a segment without
        sessions is absent: an OOS start after the last session leaves no ``out_of_sample``).

    Raises:
        ValueError: ``oos_start`` is not a date, ``nav`` is empty.
    """
    if len(nav) == 0:
        raise ValueError("the backtest has no sessions to split")
    cut = _as_ts(oos_start)
    idx = pd.DatetimeIndex(nav.index)
    is_mask = idx < cut
    out: dict[str, tuple[pd.Series, float]] = {"full": (nav, float(capital))}
    if is_mask.any():
        out["in_sample"] = (nav[is_mask], float(capital))
    if (~is_mask).any():
        oos = nav[~is_mask]
        start = float(nav[is_mask].iloc[-1]) if is_mask.any() else float(capital)
        out["out_of_sample"] = (oos, start)
    return out


def split_stats(nav: pd.Series, oos_start, capital: float,
                benchmark_nav: pd.Series | None = None) -> pd.DataFrame:
    """Composer's stats of the strategy (and benchmark) over the in-sample, out-of-sample and whole periods.

    Args:
        nav: the backtest's daily values (USD), index = sessions ascending.
        oos_start: the first out-of-sample day (see :func:`segment_navs`).
        capital: the backtest's starting capital (USD).
        benchmark_nav: the benchmark's buy-and-hold values on the same sessions (USD), or None.

    Returns:
        Long frame, one row per (segment, series, stat): columns ``segment`` (:data:`SEGMENTS`), ``series``
        (:data:`SERIES`), ``start_date``, ``end_date`` (``datetime.date``), ``stat`` (Composer's key, e.g.
        ``sharpe_ratio``) and ``value`` (float, fractions; NaN where undefined, e.g. a Sharpe of one session).
        The strategy rows of a segment include alpha/beta against the benchmark when there is one.

    Raises:
        ValueError: as :func:`segment_navs`.
    """
    rows = []
    bench = benchmark_nav.dropna() if benchmark_nav is not None else None
    segs = segment_navs(nav, oos_start, capital)
    for segment, (part, start) in segs.items():
        bpart = bench.reindex(part.index).dropna() if bench is not None else None
        for series, values, whole in (("strategy", part, nav), ("benchmark", bpart, bench)):
            if values is None or len(values) == 0:
                continue
            stats_nav, start_value = values, float(capital)
            prev = whole[whole.index < values.index[0]]
            if segment == "out_of_sample" and len(prev):
                # anchored on the last in-sample value: the first OOS return is V(first OOS) / V(last IS) - 1
                stats_nav = pd.concat([prev.iloc[-1:], values])
                start_value = float(prev.iloc[-1])
            bref = None
            if series == "strategy" and bpart is not None and len(bpart):
                bref = bench.reindex(stats_nav.index).dropna()
            stats = full_stats(stats_nav, start_value, benchmark_nav=bref)
            for stat, value in stats.items():
                rows.append({"segment": segment, "series": series, "start_date": values.index[0].date(),
                             "end_date": values.index[-1].date(), "stat": stat, "value": float(value)})
    return pd.DataFrame(rows, columns=["segment", "series", "start_date", "end_date", "stat", "value"])


def split_curves(nav: pd.Series, oos_start, capital: float,
                 benchmark_nav: pd.Series | None = None) -> pd.DataFrame:
    """Growth of 1 and drawdown per segment, for charts.

    Returns:
        Long frame with columns ``segment`` (``in_sample`` / ``out_of_sample`` / ``full``), ``series``,
        ``session_date`` (Timestamp), ``growth`` (value / the segment's start value: the capital for the
        in-sample and whole parts, the last in-sample value for the out-of-sample part) and ``drawdown`` (≤ 0,
        fraction, from the segment's own running peak, the start value counted).
    """
    parts = []
    segs = segment_navs(nav, oos_start, capital)
    for segment in ("in_sample", "out_of_sample", "full"):
        if segment not in segs:
            continue
        part, start = segs[segment]
        for series, values, base in (("strategy", part, start), ("benchmark", None, None)):
            if series == "benchmark":
                if benchmark_nav is None:
                    continue
                bench = benchmark_nav.dropna()
                values = bench.reindex(part.index).dropna()
                if values.empty:
                    continue
                prev = bench[bench.index < values.index[0]]
                base = float(prev.iloc[-1]) if segment == "out_of_sample" and len(prev) else float(capital)
            growth = values.astype("float64") / base
            dd = drawdown_series(pd.concat([pd.Series([1.0]), growth.reset_index(drop=True)])).iloc[1:]
            parts.append(pd.DataFrame({"segment": segment, "series": series, "session_date": values.index,
                                       "growth": growth.to_numpy(), "drawdown": np.minimum(dd.to_numpy(), 0.0)}))
    if not parts:
        return pd.DataFrame(columns=["segment", "series", "session_date", "growth", "drawdown"])
    return pd.concat(parts, ignore_index=True)


__all__ = ["SEGMENTS", "SERIES", "segment_navs", "split_stats", "split_curves"]
