"""Live vs backtest: align a symphony's paper NAV with its backtest and name the cause of each day they differ.

Pure functions of plain frames (no warehouse, no Streamlit); the dashboard's Backtests page reads the frames and
lays the answers out.

Units: NAVs in USD; returns, weights and weight gaps are fractions (0.01 = 1 %); ``return_diff_bp`` is in basis
points (1 bp = 0.0001). Sessions are ``datetime64`` in :func:`align_live_backtest`'s index and ``datetime.date``
in :func:`classify_days`' output.

Causes (:func:`classify_days`), the first that applies on a session, in this order:

1. **different branch** — the paper target tickers differ from the backtest's target tickers that day (cash and
   zero weights left out): the symphony took another branch live (typically an indicator close to its threshold
   at the 15:50 snapshot).
2. **missed fill** — one of the symphony's intents that day went into a netted account order whose status is one
   of :data:`MISSED_STATUSES`, or that is ``filled`` with ``filled_qty < qty``.
3. **price difference** — same tickers, but some ticker's weight differs by more than :data:`WEIGHT_TOLERANCE`.
4. **costs** — same holdings (within the weight tolerance), yet the daily returns differ by more than
   :data:`RETURN_TOLERANCE`: commissions, fees, slippage or fractional rounding.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from engine.evaluate import CASH as CASH_TICKER  # the cash "ticker" of target weights (left out when comparing)

#: Weight gap (fraction) above which the same tickers count as "price difference": 0.5 percentage point.
WEIGHT_TOLERANCE = 0.005
#: Daily return gap (fraction) above which the same holdings count as "costs": 1 basis point.
RETURN_TOLERANCE = 0.0001
#: Order statuses that mean a symphony's wanted trade did not (fully) happen.
MISSED_STATUSES: frozenset[str] = frozenset({"rejected", "blocked", "partially_filled", "canceled", "expired"})
#: Causes of :func:`classify_days`, in the order they are tried.
CAUSES: tuple[str, ...] = ("different branch", "missed fill", "price difference", "costs")
#: Columns of :func:`align_live_backtest`.
ALIGNED_COLUMNS: tuple[str, ...] = ("paper_usd", "backtest_usd", "paper_return", "backtest_return", "return_diff")
#: Columns of :func:`classify_days`.
DIVERGENCE_COLUMNS: tuple[str, ...] = ("session_date", "cause", "detail", "paper_weights", "backtest_weights",
                                       "max_weight_gap", "return_diff_bp")
_TINY = 1e-9


def _as_date(value: Any) -> dt.date:
    return pd.Timestamp(value).date()


def _clean(nav: pd.Series) -> pd.Series:
    s = pd.Series(nav.to_numpy(dtype="float64"), index=pd.DatetimeIndex(pd.to_datetime(nav.index)))
    return s.dropna().sort_index()


def align_live_backtest(paper_nav: pd.Series, backtest_nav: pd.Series) -> pd.DataFrame:
    """Paper NAV and backtest NAV on their common sessions, the backtest rebased to the paper start.

    The backtest is scaled so that it equals the paper NAV on the first common session
    (``backtest_rebased = backtest_nav · paper_nav[start] / backtest_nav[start]``); daily returns are simple
    returns between consecutive common sessions (NaN on the first). Sessions where the backtest NAV is 0 are
    left out.

    Args:
        paper_nav: the symphony's paper NAV (USD) indexed by sessions (date-like).
        backtest_nav: the backtest's NAV (USD, any scale) indexed by sessions.

    Returns:
        Index ``session_date`` (``datetime64``, ascending); columns :data:`ALIGNED_COLUMNS`: ``paper_usd``,
        ``backtest_usd`` (rebased, USD), ``paper_return``, ``backtest_return``, ``return_diff`` (paper −
        backtest), fractions. Empty (same columns) when the two share no session.
    """
    p, b = _clean(paper_nav), _clean(backtest_nav)
    both = pd.concat({"paper_usd": p, "backtest_usd": b}, axis=1, join="inner").dropna()
    both = both[both["backtest_usd"] != 0]
    if both.empty:
        return pd.DataFrame(columns=list(ALIGNED_COLUMNS), index=pd.DatetimeIndex([], name="session_date"),
                            dtype="float64")
    both["backtest_usd"] = both["backtest_usd"] / float(both["backtest_usd"].iloc[0]) * float(both["paper_usd"].iloc[0])
    both["paper_return"] = both["paper_usd"].pct_change()
    both["backtest_return"] = both["backtest_usd"].pct_change()
    both["return_diff"] = both["paper_return"] - both["backtest_return"]
    both.index.name = "session_date"
    return both[list(ALIGNED_COLUMNS)]


def weights_by_day(frame: pd.DataFrame | None, column: str) -> dict[dt.date, dict[str, float]]:
    """``{session: {ticker: weight}}`` of a long weights frame, cash and zero weights left out.

    Args:
        frame: rows with ``session_date``, ``ticker`` and the weight ``column`` (fraction); may be ``None``.
        column: ``"target_weight"`` (paper targets) or ``"weight"`` (backtest weights).
    """
    out: dict[dt.date, dict[str, float]] = {}
    if frame is None or frame.empty:
        return out
    for day, ticker, w in zip(frame["session_date"], frame["ticker"], frame[column]):
        if ticker == CASH_TICKER or w is None or pd.isna(w) or abs(float(w)) <= _TINY:
            continue
        out.setdefault(_as_date(day), {})[str(ticker)] = float(w)
    return out


def missed_orders(outcomes: pd.DataFrame | None) -> dict[dt.date, list[str]]:
    """The sessions on which a symphony's intent went into an order that did not (fully) fill.

    Args:
        outcomes: rows with ``session_date, ticker, status, reason, qty, filled_qty`` (an intent joined to its
            netted order; order columns empty for crossed or skipped intents); may be ``None``.

    Returns:
        ``{session: ["TLT rejected (insufficient qty)", …]}``: status in :data:`MISSED_STATUSES`, or ``filled``
        with ``filled_qty < qty``.
    """
    out: dict[dt.date, list[str]] = {}
    if outcomes is None or outcomes.empty:
        return out
    for row in outcomes.itertuples(index=False):
        status = getattr(row, "status", None)
        qty, filled = getattr(row, "qty", None), getattr(row, "filled_qty", None)
        short = (status == "filled" and qty is not None and filled is not None and not pd.isna(qty)
                 and not pd.isna(filled) and float(filled) < float(qty) - 1e-9)
        if isinstance(status, str) and (status in MISSED_STATUSES or short):
            reason = getattr(row, "reason", None)
            text = f"{row.ticker} {status}" + (f" ({reason})" if isinstance(reason, str) and reason else "")
            out.setdefault(_as_date(row.session_date), []).append(text)
    return out


def classify_days(aligned: pd.DataFrame, paper_targets: pd.DataFrame, backtest_weights: pd.DataFrame,
                  outcomes: pd.DataFrame | None = None) -> pd.DataFrame:
    """The sessions on which live trading and the backtest differed, each with its cause (module docstring).

    Sessions considered: the rows of ``aligned``. Rules 1 and 3 need targets on both sides that day; when one
    side has none they are skipped for that day. Rule 4 needs a daily return on both sides (not the first common
    session). A session where no rule applies is not listed.

    Args:
        aligned: :func:`align_live_backtest`'s frame.
        paper_targets: the paper target weights, ``session_date, ticker, target_weight`` (fraction).
        backtest_weights: the backtest's target weights, ``session_date, ticker, weight`` (fraction).
        outcomes: the symphony's intents joined to their orders (:func:`missed_orders`), or ``None``.

    Returns:
        Columns :data:`DIVERGENCE_COLUMNS`: ``session_date`` (date), ``cause`` (one of :data:`CAUSES`),
        ``detail`` (words), ``paper_weights`` / ``backtest_weights`` (``{ticker: fraction}``, cash left out;
        ``{}`` when that side has none), ``max_weight_gap`` (fraction, NaN when not comparable) and
        ``return_diff_bp`` (paper − backtest, basis points, NaN on the first session).
    """
    paper_w = weights_by_day(paper_targets, "target_weight")
    bt_w = weights_by_day(backtest_weights, "weight")
    missed = missed_orders(outcomes)
    rows = []
    for ts, row in aligned.iterrows():
        day = pd.Timestamp(ts).date()
        pw, bw = paper_w.get(day), bt_w.get(day)
        diff = row.get("return_diff")
        diff_bp = float(diff) * 1e4 if diff is not None and not pd.isna(diff) else float("nan")
        gap = float("nan")
        cause = detail = None
        if pw is not None and bw is not None:
            tickers = set(pw) | set(bw)
            gap = max(abs(pw.get(t, 0.0) - bw.get(t, 0.0)) for t in tickers) if tickers else 0.0
            if set(pw) != set(bw):
                only_p, only_b = sorted(set(pw) - set(bw)), sorted(set(bw) - set(pw))
                parts = ([f"only live: {', '.join(only_p)}"] if only_p else []) + \
                        ([f"only backtest: {', '.join(only_b)}"] if only_b else [])
                cause, detail = "different branch", "; ".join(parts)
        if cause is None and day in missed:
            cause, detail = "missed fill", "; ".join(missed[day])
        if cause is None and np.isfinite(gap) and gap > WEIGHT_TOLERANCE + _TINY:
            cause, detail = "price difference", f"largest weight gap {gap * 100:.2f} pp"
        if cause is None and np.isfinite(diff_bp) and abs(diff_bp) > RETURN_TOLERANCE * 1e4 + 1e-6 \
                and (not np.isfinite(gap) or gap <= WEIGHT_TOLERANCE + _TINY):
            cause, detail = "costs", f"return gap {diff_bp:+.1f} bp with the same holdings"
        if cause is not None:
            rows.append((day, cause, detail, dict(pw or {}), dict(bw or {}), gap, diff_bp))
    out = pd.DataFrame(rows, columns=list(DIVERGENCE_COLUMNS))
    out["max_weight_gap"] = out["max_weight_gap"].astype("float64")
    out["return_diff_bp"] = out["return_diff_bp"].astype("float64")
    return out


__all__ = ["CASH_TICKER", "WEIGHT_TOLERANCE", "RETURN_TOLERANCE", "MISSED_STATUSES", "CAUSES", "ALIGNED_COLUMNS",
           "DIVERGENCE_COLUMNS", "align_live_backtest", "weights_by_day", "missed_orders", "classify_days"]
