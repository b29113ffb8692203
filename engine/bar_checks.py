"""Quality checks on daily bars before they are trusted (pure: frames in, a result out).

Input: a long frame with columns ``session_date`` (``datetime.date`` or date-like), ``ticker``, ``adj_close``
(USD, total-return adjusted) and optionally ``open``, ``high``, ``low``, ``close`` (USD, NaN allowed) — the shape
``MarketDataResource.bars`` returns. The frame may hold history before the checked session: jumps are measured
between consecutive bars of a ticker, and gaps need the sessions a ticker should have.

Problems found (see :class:`BarCheckResult`):

* ``missing`` — a needed ticker has no bar on the session. **Blocks.**
* ``non_positive`` — a bar with ``adj_close`` ≤ 0 or not finite, or an ``open/high/low/close`` ≤ 0 (NaN OHLC is
  allowed: some sources have only the adjusted close). **Blocks.**
* ``duplicates`` — more than one row for a ``(session_date, ticker)``. **Blocks.**
* ``gaps`` — an expected session (``sessions``) between a ticker's first bar in the frame and the checked session
  on which it has no bar. Warns: the engine forward-fills interior gaps (``engine.prices.fill_interior_gaps``) and
  a halted ticker legitimately has none; a gap *on* the checked session is ``missing``.
* ``jumps`` — ``|adj_close(t) / adj_close(t-1) − 1| > jump_threshold`` (fraction, default 0.35) between consecutive
  valid bars of a ticker. ``adj_close`` is already split- and dividend-adjusted, so no corporate action explains
  such a move: it is either real (a crash, a biotech readout, a leveraged ETF on a wild day) or a vendor error
  such as a split not applied. Warns; :attr:`Jump.split_like` names the split ratio the move matches, if any.
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

DEFAULT_JUMP_THRESHOLD = 0.35
_PRICE_COLUMNS = ("open", "high", "low", "close")
_SPLIT_FACTORS = tuple(range(2, 51))
_SPLIT_TOLERANCE = 0.02


@dataclass(frozen=True)
class BarIssue:
    """One bad row: ``ticker`` on ``session_date``, with what is wrong (``detail``)."""

    ticker: str
    session_date: dt.date
    detail: str = ""


@dataclass(frozen=True)
class Jump:
    """A move of ``daily_return`` (fraction; adj_close(t)/adj_close(prev) − 1) above the threshold.

    Attributes:
        split_like: ``"1:N"`` (a drop to 1/N, an unapplied N-for-1 split) or ``"N:1"`` (a rise ×N, an unapplied
            reverse split) when the ratio is within 2 % of one, else None.
    """

    ticker: str
    session_date: dt.date
    previous_date: dt.date
    previous_adj_close: float
    adj_close: float
    daily_return: float
    split_like: str | None = None


@dataclass(frozen=True)
class BarCheckResult:
    """Problems found by :func:`check_bars` for ``session``; every list is sorted by ticker then date."""

    session: dt.date
    missing: list[str] = field(default_factory=list)
    non_positive: list[BarIssue] = field(default_factory=list)
    duplicates: list[BarIssue] = field(default_factory=list)
    gaps: list[BarIssue] = field(default_factory=list)
    jumps: list[Jump] = field(default_factory=list)

    @property
    def blocking(self) -> bool:
        """True when the bars must not be used: a missing ticker, a non-positive price or a duplicate row."""
        return bool(self.missing or self.non_positive or self.duplicates)

    @property
    def warnings(self) -> bool:
        """True when there are gaps or jumps (reported, not blocking)."""
        return bool(self.gaps or self.jumps)

    def metadata(self) -> dict[str, str | int | bool]:
        """A flat summary for an asset check's metadata (strings, ``"none"`` for an empty list)."""

        def join(items: Iterable[str]) -> str:
            return ", ".join(items) or "none"

        return {
            "session": self.session.isoformat(),
            "blocking": self.blocking,
            "missing": join(self.missing),
            "non_positive": join(f"{i.ticker}@{i.session_date} ({i.detail})" for i in self.non_positive),
            "duplicates": join(f"{i.ticker}@{i.session_date} ({i.detail})" for i in self.duplicates),
            "gaps": join(f"{i.ticker}@{i.session_date}" for i in self.gaps),
            "jumps": join(f"{j.ticker}@{j.session_date} {j.daily_return:+.1%}"
                          + (f" (like a {j.split_like} split)" if j.split_like else "") for j in self.jumps),
        }


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(value).date()


def split_like(ratio: float) -> str | None:
    """``"1:N"`` when ``ratio`` ≈ 1/N, ``"N:1"`` when ≈ N (N = 2..50, 2 % relative tolerance), else None."""
    if not (ratio > 0 and math.isfinite(ratio)):
        return None
    for n in _SPLIT_FACTORS:
        if abs(ratio * n - 1) <= _SPLIT_TOLERANCE:
            return f"1:{n}"
        if abs(ratio / n - 1) <= _SPLIT_TOLERANCE:
            return f"{n}:1"
    return None


def check_bars(bars: pd.DataFrame, session, needed: Iterable[str], *, sessions: Sequence | None = None,
               jump_threshold: float = DEFAULT_JUMP_THRESHOLD) -> BarCheckResult:
    """Check ``bars`` (long; module docstring) for the session ``session``.

    Args:
        bars: long bars; rows after ``session`` are ignored.
        session: the session being checked (date-like).
        needed: tickers that must have a bar on ``session``.
        sessions: the expected trading sessions covered by ``bars`` (e.g. ``engine.calendar.sessions_in_range``);
            enables the gap check. None = no gap check.
        jump_threshold: absolute daily return (fraction) above which a move of ``adj_close`` is flagged.

    Returns:
        A :class:`BarCheckResult`; ``result.blocking`` tells whether to stop.
    """
    session = _as_date(session)
    needed = sorted(set(needed))
    if bars is None or bars.empty:
        return BarCheckResult(session=session, missing=needed)
    df = bars.reset_index(drop=True)
    df["session_date"] = [_as_date(v) for v in df["session_date"]]
    df = df[df["session_date"] <= session].copy()
    df["_adj"] = pd.to_numeric(df["adj_close"], errors="coerce").astype("float64")

    # duplicates: every (session_date, ticker) seen more than once, reported once with its count
    counts = df.groupby(["ticker", "session_date"]).size()
    duplicates = [BarIssue(t, d, f"{n} rows") for (t, d), n in counts[counts > 1].items()]

    # non-positive or non-finite adjusted close; non-positive OHLC where present
    bad_mask = ~(np.isfinite(df["_adj"]) & (df["_adj"] > 0))
    details = {i: [f"adj_close={df.at[i, 'adj_close']}"] for i in df.index[bad_mask]}
    for col in _PRICE_COLUMNS:
        if col in df.columns:
            values = pd.to_numeric(df[col], errors="coerce").astype("float64")
            col_bad = values.notna() & ~(values > 0)
            for i in df.index[col_bad]:
                details.setdefault(i, []).append(f"{col}={values.at[i]}")
    seen = set()
    non_positive = []
    for i, parts in details.items():
        key = (df.at[i, "ticker"], df.at[i, "session_date"])
        if key not in seen:  # a duplicated key is reported once
            seen.add(key)
            non_positive.append(BarIssue(key[0], key[1], ", ".join(parts)))
    non_positive.sort(key=lambda b: (b.ticker, b.session_date))

    valid = df.drop(index=list(details)).drop_duplicates(["ticker", "session_date"], keep="first")
    present_today = set(valid.loc[valid["session_date"] == session, "ticker"]) | {
        b.ticker for b in non_positive if b.session_date == session}
    missing = [t for t in needed if t not in present_today]

    gaps: list[BarIssue] = []
    if sessions is not None:
        expected = sorted({_as_date(s) for s in sessions if _as_date(s) < session})
        all_rows = df.groupby("ticker")["session_date"]
        for ticker, dates in all_rows:
            have = set(dates)
            first = min(have)
            gaps += [BarIssue(ticker, d, "no bar") for d in expected if d > first and d not in have]
        gaps.sort(key=lambda b: (b.ticker, b.session_date))

    jumps: list[Jump] = []
    for ticker, g in valid.sort_values("session_date").groupby("ticker", sort=True):
        dates, adj = g["session_date"].tolist(), g["_adj"].to_numpy()
        for k in range(1, len(adj)):
            ratio = adj[k] / adj[k - 1]
            if abs(ratio - 1) > jump_threshold:
                jumps.append(Jump(ticker, dates[k], dates[k - 1], float(adj[k - 1]), float(adj[k]),
                                  float(ratio - 1), split_like(ratio)))

    return BarCheckResult(session=session, missing=missing, non_positive=non_positive,
                          duplicates=sorted(duplicates, key=lambda b: (b.ticker, b.session_date)),
                          gaps=gaps, jumps=jumps)


__all__ = ["DEFAULT_JUMP_THRESHOLD", "BarIssue", "Jump", "BarCheckResult", "check_bars", "split_like"]
