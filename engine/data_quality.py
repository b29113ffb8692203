"""Data quality of adjusted-close series, as data (pure: a long frame in, findings out).

Input: the long frame of :meth:`engine.prices.CloseReader.long_closes` — ``session_date`` (``datetime.date``),
``ticker``, ``adj_close`` (USD, total-return adjusted), as stored (no filling).

Findings (:class:`Finding`, ``kind``):

* ``stale`` — the series ends before the data's last session (``last_session``: the newest session of the whole
  source, not only of the tickers checked). A backtest or a daily run that holds such a ticker after its last
  bar has no price for it.
* ``gap`` — sessions missing *inside* a series (between its first and last bar): NYSE sessions
  (``exchange_calendars`` XNYS, whose history includes the unscheduled closures such as 2001-09-11..14,
  2007-01-02, 2012-10-29/30) on which the ticker has no row. One finding per run of consecutive missing sessions
  (``count`` sessions from ``session_date``). Readers fill interior gaps with the previous close
  (:func:`engine.prices.fill_interior_gaps`); the finding says where that happened.
* ``non_positive`` — an ``adj_close`` that is ≤ 0 or not finite.
* ``jump`` — a daily move ``r = adj_close(t) / adj_close(previous row) − 1`` with either
  ``|r| > MOVE_BOUND_1X × max(1, |leverage|)`` = 60 % for a 1× product, scaled by the product's leverage from
  :data:`LEVERAGE` (e.g. TQQQ 3× → 180 %, UVXY 1.5× → 90 %; unknown tickers count as 1×; sub-1× products such as
  SVXY −0.5× keep the 1× bound), **or** a move whose ratio is within 2 % of a split ratio (N:1 or 1:N, N = 2..50)
  at any leverage — an unadjusted 2:1 split is −50 %, inside the bound. Adjusted closes already include splits and
  dividends, so such a move is either
  a real event (a trial readout, a squeeze) or a split the source did not adjust; ``detail`` names the split
  ratio the move matches, if any (:func:`engine.bar_checks.split_like`). The bound is chosen so that every
  move of ``../shared/data/bars/SOURCES.md``'s scan (|r| beyond +150 % / −75 %) is reported, while ordinary
  volatile days of 1× ETFs (|r| ≤ ~35 %) and leveraged ETFs on crash days (ERX −60 % at 3× in March 2020) are not.

A gap on the NYSE calendar before ``exchange_calendars``' first XNYS session (1962-07-02) is not checked.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from engine.bar_checks import split_like

#: |daily return| bound (fraction) for a 1× product; scaled by max(1, |leverage|).
MOVE_BOUND_1X = 0.60
#: A move must exceed the bound by more than this (fraction) — float rounding: 160/100 − 1 = 0.6000000000000001.
BOUND_TOLERANCE = 1e-9
#: Earliest session of the XNYS calendar used for the gap check.
CALENDAR_FIRST = "1962-07-02"
KINDS = ("stale", "gap", "non_positive", "jump")

#: Daily leverage of the leveraged and inverse products in the bundle (issuers' fund names, e.g. "Direxion Daily
#: Semiconductor Bull 3X"; current leverage: CONL, NVDL, AAPU, GGLL ran at 1.5× before 2024, ERX at 3× before
#: 2020 — the larger bound would hide nothing the smaller one shows for those years except moves between them).
#: Sign: negative = inverse. Only |leverage| is used for the bound.
LEVERAGE: dict[str, float] = {
    # 3× equity / sector / bond
    "TQQQ": 3, "SQQQ": -3, "SOXL": 3, "SOXS": -3, "UPRO": 3, "SPXL": 3, "SPXU": -3, "SPXS": -3, "UDOW": 3,
    "URTY": 3, "SRTY": -3, "TNA": 3, "TZA": -3, "TECL": 3, "TECS": -3, "TMF": 3, "TMV": -3, "TYO": -3, "FAS": 3,
    "FAZ": -3, "LABU": 3, "LABD": -3, "CURE": 3, "DFEN": 3, "DRN": 3, "DRV": -3, "EDC": 3, "EDZ": -3, "FNGU": 3,
    "BULZ": 3, "HIBL": 3, "HIBS": -3, "NAIL": 3, "PILL": 3, "RETL": 3, "UTSL": 3, "GDXU": 3, "GDXD": -3,
    "YINN": 3, "YANG": -3, "NRGU": 3, "SPYU": 4,
    # 2×
    "QLD": 2, "SSO": 2, "ROM": 2, "UGE": 2, "USD": 2, "UYM": 2, "MVV": 2, "LTL": 2, "XPP": 2, "CWEB": 2,
    "UBOT": 2, "AGQ": 2, "ZSL": -2, "UGL": 2, "GLL": -2, "UCO": 2, "SCO": -2, "BOIL": 2, "KOLD": -2, "ERX": 2,
    "ERY": -2, "GUSH": 2, "DRIP": -2, "NUGT": 2, "DUST": -2, "JNUG": 2, "QID": -2, "TBT": -2, "EUO": -2,
    "YCS": -2, "BITX": 2, "SBIT": -2, "CONL": 2, "NVDL": 2, "NVDQ": -2, "TSLL": 2, "TSLR": 2, "MSTU": 2,
    "MSTZ": -2, "TARK": 2, "SMCX": 2, "AAPU": 2, "AAPX": 2, "AMZU": 2, "GGLL": 2, "PTIR": 2, "UVIX": 2,
    # inverse 1× and other
    "SH": -1, "PSQ": -1, "DOG": -1, "RWM": -1, "SPDN": -1, "TSLQ": -1, "TSLS": -1, "AAPD": -1, "AMZD": -1,
    "GGLS": -1, "MSFD": -1, "NVDS": -1.25, "SVIX": -1, "SVXY": -0.5, "UVXY": 1.5,
}


@dataclass(frozen=True)
class Finding:
    """One data-quality finding.

    Attributes:
        kind: ``stale``, ``gap``, ``non_positive`` or ``jump`` (module docstring).
        ticker: the series.
        session_date: stale: the series' last bar; gap: the first missing session; non_positive / jump: the bar.
        detail: human-readable specifics (the move, the bound, the split ratio, the missing range).
        value: stale: sessions behind the data's last session; gap: missing sessions in the run; non_positive:
            the value (USD); jump: the daily return (fraction).
    """

    kind: str
    ticker: str
    session_date: dt.date
    detail: str
    value: float


@dataclass(frozen=True)
class DataQualityReport:
    """The findings of :func:`check_closes`, sorted by kind (``KINDS`` order), ticker, date.

    Attributes:
        last_session: the data's last session the stale check used (None: no data).
        tickers: the tickers checked (those with at least one row), sorted.
        findings: every finding.
    """

    last_session: dt.date | None
    tickers: tuple[str, ...]
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def clean(self) -> bool:
        """True when there is no finding."""
        return not self.findings

    def of_kind(self, kind: str) -> list[Finding]:
        """The findings of one kind."""
        return [f for f in self.findings if f.kind == kind]

    def counts(self) -> dict[str, int]:
        """Findings per kind (every kind present, 0 when none)."""
        return {k: len(self.of_kind(k)) for k in KINDS}

    def to_frame(self) -> pd.DataFrame:
        """Columns ``kind, ticker, session_date, value, detail`` (one row per finding)."""
        return pd.DataFrame([{"kind": f.kind, "ticker": f.ticker, "session_date": f.session_date, "value": f.value,
                              "detail": f.detail} for f in self.findings],
                            columns=["kind", "ticker", "session_date", "value", "detail"])

    def metadata(self, limit: int = 20) -> dict[str, str | int | bool]:
        """A flat summary for a Dagster asset check: counts per kind and the first ``limit`` findings of each."""
        out: dict[str, str | int | bool] = {"clean": self.clean, "tickers_checked": len(self.tickers),
                                            "last_session": str(self.last_session)}
        for k in KINDS:
            items = self.of_kind(k)
            out[f"{k}_count"] = len(items)
            shown = "; ".join(f"{f.ticker} {f.session_date}: {f.detail}" for f in items[:limit])
            out[k] = (shown + (f"; … {len(items) - limit} more" if len(items) > limit else "")) or "none"
        return out


@lru_cache(maxsize=1)
def _xnys_sessions() -> np.ndarray:
    import exchange_calendars as xcals

    cal = xcals.get_calendar("XNYS", start=CALENDAR_FIRST)
    return cal.sessions.to_numpy().astype("datetime64[D]")


def nyse_sessions() -> np.ndarray:
    """Every XNYS session from :data:`CALENDAR_FIRST` to ``exchange_calendars``' horizon (``datetime64[D]``)."""
    return _xnys_sessions()


def leverage_of(ticker: str, table: Mapping[str, float] = LEVERAGE) -> float:
    """The ticker's daily leverage from ``table`` (1.0 when unknown)."""
    return float(table.get(ticker, 1.0))


def move_bound(ticker: str, table: Mapping[str, float] = LEVERAGE, bound_1x: float = MOVE_BOUND_1X) -> float:
    """``bound_1x × max(1, |leverage|)``: the |daily return| (fraction) above which a move is a ``jump``."""
    return bound_1x * max(1.0, abs(leverage_of(ticker, table)))


def _as_days(values: Iterable) -> np.ndarray:
    return np.array([np.datetime64(pd.Timestamp(v).date(), "D") for v in values], dtype="datetime64[D]")


def _runs(missing: np.ndarray, cal: np.ndarray) -> list[tuple[np.datetime64, np.datetime64, int]]:
    """Runs of consecutive missing sessions (consecutive by position in ``cal``): ``(first, last, count)``."""
    pos = np.searchsorted(cal, missing)
    out, start = [], 0
    for i in range(1, len(pos) + 1):
        if i == len(pos) or pos[i] != pos[i - 1] + 1:
            out.append((missing[start], missing[i - 1], i - start))
            start = i
    return out


def _series(long: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{ticker: (days datetime64[D] ascending, adj_close float64)}``."""
    if long.empty:
        return {}
    days = pd.to_datetime(long["session_date"]).to_numpy().astype("datetime64[D]")
    codes, names = pd.factorize(long["ticker"].astype(str), sort=True)
    values = long["adj_close"].to_numpy(dtype="float64")
    order = np.lexsort((days.astype("int64"), codes))  # integer keys: fast even for the whole bundle
    days, codes, values = days[order], codes[order], values[order]
    cuts = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    bounds = zip(np.r_[0, cuts], np.r_[cuts, len(codes)])
    return {str(names[codes[i]]): (days[i:j], values[i:j]) for i, j in bounds}


def _missing_sessions(days: np.ndarray, sessions: np.ndarray | None) -> np.ndarray:
    cal = nyse_sessions() if sessions is None else sessions
    if len(days) == 0:
        return cal[:0]
    lo, hi = np.searchsorted(cal, days[0], side="right"), np.searchsorted(cal, days[-1], side="left")
    expected = cal[lo:hi]
    at = np.minimum(np.searchsorted(days, expected), len(days) - 1)  # days is sorted (see _series)
    return expected[days[at] != expected]


def check_closes(long: pd.DataFrame, *, last_session=None, sessions: Sequence | None = None,
                 leverage: Mapping[str, float] = LEVERAGE, bound_1x: float = MOVE_BOUND_1X,
                 kinds: Iterable[str] = KINDS) -> DataQualityReport:
    """Check every series of ``long`` (module docstring).

    Args:
        long: ``session_date, ticker, adj_close`` rows as stored.
        last_session: the data's last session for the stale check (default: the newest date in ``long``).
        sessions: the expected sessions for the gap check (date-like, ascending); default the XNYS calendar.
        leverage: ticker → daily leverage (default :data:`LEVERAGE`).
        bound_1x: the 1× move bound (fraction, default 0.60).
        kinds: which checks to run (default all).

    Returns:
        A :class:`DataQualityReport`.
    """
    kinds = set(kinds)
    unknown = kinds - set(KINDS)
    if unknown:
        raise ValueError(f"unknown data-quality check {', '.join(sorted(unknown))}; known: {', '.join(KINDS)}")
    series = _series(long)
    if last_session is None:
        last = max((d[-1] for d, _ in series.values() if len(d)), default=None)
        last_day = None if last is None else pd.Timestamp(last).date()
    else:
        last_day = pd.Timestamp(last_session).date()
    cal = None if sessions is None else np.unique(_as_days(sessions))
    findings: list[Finding] = []
    for ticker, (days, values) in series.items():
        if not len(days):
            continue
        if "stale" in kinds and last_day is not None and days[-1] < np.datetime64(last_day, "D"):
            ref = nyse_sessions() if cal is None else cal
            behind = int(np.searchsorted(ref, np.datetime64(last_day, "D"), side="right")
                         - np.searchsorted(ref, days[-1], side="right"))
            findings.append(Finding("stale", ticker, pd.Timestamp(days[-1]).date(),
                                    f"last bar {pd.Timestamp(days[-1]).date()}, {behind} session(s) before the "
                                    f"data's last session {last_day}", float(behind)))
        if "gap" in kinds:
            for first, lastm, n in _runs(_missing_sessions(days, cal), nyse_sessions() if cal is None else cal):
                a, b = pd.Timestamp(first).date(), pd.Timestamp(lastm).date()
                findings.append(Finding("gap", ticker, a, f"no bar on {a}" if n == 1 else
                                        f"no bar on {n} sessions {a}..{b}", float(n)))
        finite_pos = np.isfinite(values) & (values > 0)
        if "non_positive" in kinds:
            for i in np.flatnonzero(~finite_pos):
                findings.append(Finding("non_positive", ticker, pd.Timestamp(days[i]).date(),
                                        f"adj_close={values[i]}", float(values[i])))
        if "jump" in kinds:
            ok_days, ok = days[finite_pos], values[finite_pos]
            if len(ok) > 1:
                ratio = ok[1:] / ok[:-1]
                lev = leverage_of(ticker, leverage)
                bound = move_bound(ticker, leverage, bound_1x)
                big = np.abs(ratio - 1.0) > bound + BOUND_TOLERANCE
                # a split-like ratio (within 2 % of N or 1/N, N >= 2) is reported even inside the bound: an
                # unadjusted 2:1 split is −50 %, which the 60 % bound alone would miss
                near = (ratio >= 1.96) | (ratio <= 0.51)
                for i in np.flatnonzero(big | near):
                    r = float(ratio[i] - 1.0)
                    like = split_like(float(ratio[i]))
                    if not big[i] and like is None:
                        continue
                    findings.append(Finding(
                        "jump", ticker, pd.Timestamp(ok_days[i + 1]).date(),
                        f"{r:+.1%} from {pd.Timestamp(ok_days[i]).date()} (bound ±{bound:.0%} for "
                        f"{'%g' % lev}×)" + (f", like an unadjusted split (ratio {like})" if like else ""), r))
    order = {k: i for i, k in enumerate(KINDS)}
    findings.sort(key=lambda f: (order[f.kind], f.ticker, f.session_date))
    return DataQualityReport(last_session=last_day, tickers=tuple(sorted(series)), findings=tuple(findings))


def coverage(long: pd.DataFrame, *, sessions: Sequence | None = None, source: str | Mapping[str, str] = "") \
        -> pd.DataFrame:
    """Per-ticker coverage of a long close frame.

    Args:
        long: ``session_date, ticker, adj_close`` rows as stored.
        sessions: expected sessions for the gap count (default: the XNYS calendar).
        source: the source name, or a mapping ticker → source (e.g. the bundle manifest's per-ticker source).

    Returns:
        One row per ticker, sorted: ``ticker``, ``first``, ``last`` (``datetime.date``), ``rows`` (int),
        ``interior_gaps`` (missing sessions between first and last, int), ``source`` (str).
    """
    cal = None if sessions is None else np.unique(_as_days(sessions))
    rows = []
    for ticker, (days, _) in _series(long).items():
        if not len(days):
            continue
        rows.append({"ticker": ticker, "first": pd.Timestamp(days[0]).date(), "last": pd.Timestamp(days[-1]).date(),
                     "rows": int(len(days)), "interior_gaps": int(len(_missing_sessions(days, cal))),
                     "source": source.get(ticker, "") if isinstance(source, Mapping) else source})
    return pd.DataFrame(rows, columns=["ticker", "first", "last", "rows", "interior_gaps", "source"])


__all__ = ["Finding", "DataQualityReport", "check_closes", "coverage", "LEVERAGE", "MOVE_BOUND_1X", "KINDS",
           "leverage_of", "move_bound", "nyse_sessions"]
