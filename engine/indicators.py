"""The fifteen Composer indicator functions over a wide frame of adjusted closes (composer_format.md §4).

Every function takes ``closes``, a wide frame (index = sessions, ascending; columns = tickers; float64 adjusted
closes; NaN before a ticker's first bar) and returns a frame of the same index and columns holding the value of the
indicator for each ticker on each session, computed from that session's close and earlier closes only (no
look-ahead). A value is NaN until the ticker has enough history (the warm-up of each function is in its docstring):

* price-level functions (``moving-average-price``, ``exponential-moving-average-price``,
  ``standard-deviation-price``) need N closes;
* return-based functions (``cumulative-return``, ``moving-average-return``, ``standard-deviation-return``,
  ``relative-strength-index``) need N+1 closes, i.e. N daily returns (composer_format.md §4,
  "an N-day function needs N+1 closes");
* ``max-drawdown`` N reads the last N closes (composer_format.md §4, VERIFIED; issue 9);
* the oscillators (``percentage-price-oscillator``, ``moving-average-convergence-divergence``) need
  max(short, long) closes, their ``-signal`` lines max(short, long) + smooth − 1 closes; the Bollinger bands N.

Units are the units of the constants in symphony conditions: dollars for price-level functions (MACD and its
signal, the Bollinger bands included), **percent** for return-type functions (``cumulative-return SPY 10 < -6``
means −6 %) and for PPO and its signal, 0–100 for RSI. The formulas, and the
evidence that they are Composer's (its own indicator values of 2022-10-24), are in ``docs/semantics.md``.

Input contract (checked, :class:`ValueError` otherwise): the index is ascending and unique, and each column is one
contiguous run of values — NaN may lead (before the first bar) or trail (after a delisting), but not interrupt it;
the loader forward-fills interior gaps. Dispatch by JSON name through :func:`compute_indicator`, which also maps a
reference's ``params`` (``(("long-window", 26), ("short-window", 12))``) onto the keyword arguments of the six
multi-parameter functions and rejects unknown or missing keys.
"""
from __future__ import annotations

from collections.abc import Callable
from numbers import Integral, Real

import sys

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view


def _import_talib():
    """``import talib`` without TA-Lib importing polars (~0.3 s of CPU per process).

    TA-Lib's package imports polars, when installed, only to accept ``polars.Series`` arguments; the engine passes
    NumPy arrays, and nothing else here reads polars. When polars is not imported yet, its ``sys.modules`` entry is
    set to None for the duration of TA-Lib's import (TA-Lib then treats polars as absent, as it documents for an
    environment without it) and removed afterwards, so a later ``import polars`` anywhere works as usual.
    """
    if "polars" in sys.modules:
        import talib
        return talib
    sys.modules["polars"] = None  # type: ignore[assignment]
    try:
        import talib
    finally:
        if sys.modules.get("polars", 0) is None:
            del sys.modules["polars"]
    return talib


talib = _import_talib()


__all__ = [
    "BOLLINGER_DEFAULT_WIDTH",
    "check_series",
    "compute_indicator",
    "compute_series",
    "cumulative_return",
    "current_price",
    "exponential_moving_average_price",
    "lower_bollinger",
    "max_drawdown",
    "moving_average_convergence_divergence",
    "moving_average_convergence_divergence_signal",
    "moving_average_price",
    "moving_average_return",
    "percentage_price_oscillator",
    "percentage_price_oscillator_signal",
    "relative_strength_index",
    "standard_deviation_price",
    "standard_deviation_return",
    "upper_bollinger",
]

#: RSI value when every close so far is equal (average gain = average loss = 0, RS = 0/0). TA-Lib returns 0
#: there; we return the neutral 50 (our convention: Composer's value is unknown, see docs/semantics.md).
FLAT_RSI = 50.0

#: Bollinger band width k when the symphony gives none (the standard band, SMA ± 2σ; engine.functions ``num-std``).
BOLLINGER_DEFAULT_WIDTH: int = 2

#: Upper bound on the elements of one sliding-window block in :func:`max_drawdown` (memory ≈ 3 × 8 B × this).
_MDD_BLOCK_ELEMENTS = 2_000_000


# ---------------------------------------------------------------------------------------------------------------
# Input checks and shared helpers
# ---------------------------------------------------------------------------------------------------------------

def _check_window(fn: str, window: object, minimum: int = 1, what: str = "window") -> int:
    """Return ``window`` as an ``int`` ≥ ``minimum`` trading days, or raise ValueError naming ``fn`` and ``what``."""
    if window is None:
        raise ValueError(f"{fn}: missing {what} (a number of trading days)")
    if isinstance(window, bool) or not isinstance(window, Integral):
        raise ValueError(f"{fn}: {what} must be an integer number of trading days, got {window!r}")
    if window < minimum:
        raise ValueError(f"{fn}: {what} must be >= {minimum} trading days, got {window}")
    return int(window)


def _check_width(fn: str, num_std: object) -> float:
    """Return the Bollinger band width k (standard deviations) as a finite ``float`` > 0, or raise ValueError."""
    if isinstance(num_std, bool) or not isinstance(num_std, Real) or not np.isfinite(float(num_std)):
        raise ValueError(f"{fn}: num-std must be a finite number of standard deviations, got {num_std!r}")
    if num_std <= 0:
        raise ValueError(f"{fn}: num-std must be > 0 standard deviations, got {num_std}")
    return float(num_std)


def _check_closes(fn: str, closes: pd.DataFrame) -> pd.DataFrame:
    """Validate the wide close frame and return it as float64 (see the module docstring for the contract)."""
    if not isinstance(closes, pd.DataFrame):
        raise ValueError(f"{fn}: closes must be a wide pandas DataFrame (sessions × tickers), "
                         f"got {type(closes).__name__}")
    if not closes.index.is_monotonic_increasing or not closes.index.is_unique:
        raise ValueError(f"{fn}: closes must be indexed by unique sessions in ascending order")
    frame = closes.astype("float64")
    values = frame.to_numpy()
    if values.size:
        valid = ~np.isnan(values)
        count = valid.sum(axis=0)
        first = valid.argmax(axis=0)
        last = values.shape[0] - 1 - valid[::-1].argmax(axis=0)
        gapped = (count > 0) & (count < last - first + 1)
        if gapped.any():
            j = int(np.flatnonzero(gapped)[0])
            gap_row = first[j] + int(np.flatnonzero(~valid[first[j]:last[j] + 1, j])[0])
            raise ValueError(f"{fn}: closes of {frame.columns[j]!r} have a gap at {frame.index[gap_row]!r} "
                             f"(NaN between the first and last bar); forward-fill interior gaps first")
    return frame


def _like(frame: pd.DataFrame, values: np.ndarray) -> pd.DataFrame:
    """A frame with the index and columns of ``frame`` holding ``values``."""
    return pd.DataFrame(values, index=frame.index, columns=frame.columns)


def _daily_returns(frame: pd.DataFrame) -> pd.DataFrame:
    """Simple daily returns ``P_t / P_{t-1} - 1`` (fraction); NaN on each ticker's first bar and before it."""
    return frame / frame.shift(1) - 1.0


def _per_column(frame: pd.DataFrame, kernel: Callable[[np.ndarray], np.ndarray]) -> pd.DataFrame:
    """Apply ``kernel`` to the run of values of each column and place the result back (NaN elsewhere).

    ``kernel`` maps a 1-D float64 array without NaN to an array of the same length. TA-Lib functions would also
    skip leading NaN themselves; slicing makes the placement explicit and supports trailing NaN as well.
    """
    values = frame.to_numpy()
    out = np.full(values.shape, np.nan)
    for j in range(values.shape[1]):
        rows = np.flatnonzero(~np.isnan(values[:, j]))
        if rows.size:
            lo, hi = rows[0], rows[-1] + 1
            out[lo:hi, j] = kernel(values[lo:hi, j])
    return _like(frame, out)


# ---------------------------------------------------------------------------------------------------------------
# The nine functions
# ---------------------------------------------------------------------------------------------------------------

def current_price(closes: pd.DataFrame, window: int | None = None) -> pd.DataFrame:
    """Close of each session: ``current-price`` (composer_format.md §4, DOC [H-SMA]).

    Formula: ``P_t`` (in a backtest the adjusted close of day t; live, the evaluator passes the real-time price
    as today's close).

    Args:
        closes: wide adjusted closes, index = sessions (ascending), columns = tickers, float64, NaN before a
            ticker's first bar.
        window: must be None — the function takes no parameters.

    Returns:
        Frame of ``closes``'s shape, in dollars; NaN where ``closes`` is NaN (warm-up: 1 close).

    Raises:
        ValueError: a window was given, or ``closes`` breaks the input contract.
    """
    if window is not None:
        raise ValueError(f"current-price: takes no window, got {window!r}")
    return _check_closes("current-price", closes).copy()


def cumulative_return(closes: pd.DataFrame, window: int) -> pd.DataFrame:
    """Return over the last N sessions: ``cumulative-return`` (composer_format.md §4).

    Formula: ``100 · (P_t / P_{t−N} − 1)``.

    Args:
        closes: wide adjusted closes, index = sessions (ascending), columns = tickers, float64, NaN before a
            ticker's first bar.
        window: N ≥ 1 trading days.

    Returns:
        Frame of ``closes``'s shape, in **percent** (``-6.0`` = −6 %); NaN until N+1 closes exist.

    Source: VERIFIED against Composer's own values for N = 1, 2, 3, 5, 6 (docs/semantics.md); Composer stores the
    fraction internally (``cum-return-pct``), symphony thresholds are in percent.
    """
    n = _check_window("cumulative-return", window)
    frame = _check_closes("cumulative-return", closes)
    return 100.0 * (frame / frame.shift(n) - 1.0)


def moving_average_price(closes: pd.DataFrame, window: int) -> pd.DataFrame:
    """Simple moving average of the closes: ``moving-average-price`` (composer_format.md §4, DOC [H-SMA]).

    Formula: ``(1/N) · Σ_{k=0}^{N−1} P_{t−k}`` — the last N closes, today's included.

    Args:
        closes: wide adjusted closes, index = sessions (ascending), columns = tickers, float64, NaN before a
            ticker's first bar.
        window: N ≥ 1 trading days.

    Returns:
        Frame of ``closes``'s shape, in dollars; NaN until N closes exist.

    Source: VERIFIED against Composer (Composer's internal name ``mean-price``), docs/semantics.md.
    """
    n = _check_window("moving-average-price", window)
    frame = _check_closes("moving-average-price", closes)
    return frame.rolling(n, min_periods=n).mean()


def exponential_moving_average_price(closes: pd.DataFrame, window: int) -> pd.DataFrame:
    """Exponential moving average of the closes: ``exponential-moving-average-price`` (composer_format.md §4).

    Formula (TA-Lib ``EMA``, default compatibility): ``α = 2/(N+1)``; the first value, on a ticker's N-th close,
    is the simple mean of its first N closes; then ``EMA_t = α · P_t + (1 − α) · EMA_{t−1}``. The seed is the
    first N closes *of the frame passed in*: the result depends on how much history the caller supplies (the
    seed's weight after k more sessions is ``(1 − α)^k``).

    Args:
        closes: wide adjusted closes, index = sessions (ascending), columns = tickers, float64, NaN before a
            ticker's first bar.
        window: N ≥ 1 trading days (N = 1 returns the closes).

    Returns:
        Frame of ``closes``'s shape, in dollars; NaN until N closes exist.

    Source: α DOC [H-EMA] ("smoothing factor 2"); SMA seed VERIFIED: Composer's SPY EMA(210) and EMA(360) of
    2022-10-24 are reproduced to < 1e-5 relative by this formula seeded 411 sessions earlier (docs/semantics.md).
    """
    n = _check_window("exponential-moving-average-price", window)
    frame = _check_closes("exponential-moving-average-price", closes)
    return _per_column(frame, lambda x: talib.EMA(x, timeperiod=n))


def moving_average_return(closes: pd.DataFrame, window: int) -> pd.DataFrame:
    """Mean of the last N daily returns: ``moving-average-return`` (composer_format.md §4).

    Formula: ``100 · (1/N) · Σ_{k=0}^{N−1} r_{t−k}`` with simple daily returns ``r_t = P_t / P_{t−1} − 1``.

    Args:
        closes: wide adjusted closes, index = sessions (ascending), columns = tickers, float64, NaN before a
            ticker's first bar.
        window: N ≥ 1 trading days.

    Returns:
        Frame of ``closes``'s shape, in **percent** per day; NaN until N+1 closes exist.

    Source: VERIFIED against Composer for N = 5, 360 (and N = 210 once its 2022 price basis is restored),
    docs/semantics.md.
    """
    n = _check_window("moving-average-return", window)
    frame = _check_closes("moving-average-return", closes)
    return 100.0 * _daily_returns(frame).rolling(n, min_periods=n).mean()


def relative_strength_index(closes: pd.DataFrame, window: int) -> pd.DataFrame:
    """Wilder's relative strength index: ``relative-strength-index`` (composer_format.md §4, DOC [H-RSI]).

    Formula (TA-Lib ``RSI``): daily changes ``d_t = P_t − P_{t−1}``, gains ``max(d, 0)``, losses ``max(−d, 0)``.
    The averages start, on a ticker's (N+1)-th close, as the simple means of its first N gains and losses, then
    follow Wilder's smoothing ``A_t = ((N − 1) · A_{t−1} + x_t) / N``; ``RSI = 100 − 100 / (1 + AG/AL)``
    (100 when AL = 0 < AG; :data:`FLAT_RSI` = 50 when every close so far is equal). Composer warms up with "up to
    1000 days of smoothing"; we smooth over all the history passed in. After 1000 sessions the seed weighs
    ``(1 − 1/N)^1000`` (< 5e-5 for N ≤ 100), so the two agree wherever a ticker has ≥ 1000 sessions.

    Args:
        closes: wide adjusted closes, index = sessions (ascending), columns = tickers, float64, NaN before a
            ticker's first bar.
        window: N ≥ 2 trading days (TA-Lib's lower bound).

    Returns:
        Frame of ``closes``'s shape, in RSI points 0–100; NaN until N+1 closes exist.

    Source: VERIFIED against Composer's RSI(5…14) of 2022-10-24 to ≤ 1.3e-4 points (docs/semantics.md).
    """
    n = _check_window("relative-strength-index", window, minimum=2)
    frame = _check_closes("relative-strength-index", closes)

    def kernel(x: np.ndarray) -> np.ndarray:
        rsi = talib.RSI(x, timeperiod=n)
        # Every change so far is zero exactly where the running max of |ΔP| is still 0 (both averages are 0).
        flat = np.zeros(x.shape, dtype=bool)
        flat[1:] = np.maximum.accumulate(np.abs(np.diff(x))) == 0.0
        return np.where(flat & ~np.isnan(rsi), FLAT_RSI, rsi)

    return _per_column(frame, kernel)


def standard_deviation_price(closes: pd.DataFrame, window: int) -> pd.DataFrame:
    """Standard deviation of the last N closes: ``standard-deviation-price`` (composer_format.md §4).

    Formula: sample standard deviation (ddof = 1) ``sqrt( Σ_{k=0}^{N−1} (P_{t−k} − SMA_N)² / (N − 1) )``.

    Args:
        closes: wide adjusted closes, index = sessions (ascending), columns = tickers, float64, NaN before a
            ticker's first bar.
        window: N ≥ 2 trading days.

    Returns:
        Frame of ``closes``'s shape, in dollars; NaN until N closes exist.

    Source: INFERRED — no Composer value exists; ddof = 1 by analogy with ``standard-deviation-return``, whose
    ddof = 1 is VERIFIED (docs/semantics.md).
    """
    n = _check_window("standard-deviation-price", window, minimum=2)
    frame = _check_closes("standard-deviation-price", closes)
    return frame.rolling(n, min_periods=n).std(ddof=1)


def standard_deviation_return(closes: pd.DataFrame, window: int) -> pd.DataFrame:
    """Standard deviation of the last N daily returns: ``standard-deviation-return`` (composer_format.md §4).

    Formula: ``100 · sqrt( Σ_{k=0}^{N−1} (r_{t−k} − r̄)² / (N − 1) )`` — sample standard deviation (ddof = 1) of
    simple daily returns ``r_t = P_t / P_{t−1} − 1``, **not annualised**.

    Args:
        closes: wide adjusted closes, index = sessions (ascending), columns = tickers, float64, NaN before a
            ticker's first bar.
        window: N ≥ 2 trading days.

    Returns:
        Frame of ``closes``'s shape, in **percent** per day; NaN until N+1 closes exist.

    Source: VERIFIED against Composer (DBC 10/20, SPY 20) to 1.3e-6 percentage points; the population form
    (ddof = 0) is off by 0.035–0.05 points (docs/semantics.md).
    """
    n = _check_window("standard-deviation-return", window, minimum=2)
    frame = _check_closes("standard-deviation-return", closes)
    return 100.0 * _daily_returns(frame).rolling(n, min_periods=n).std(ddof=1)


def max_drawdown(closes: pd.DataFrame, window: int) -> pd.DataFrame:
    """Largest peak-to-trough fall of the closes in the window: ``max-drawdown`` (composer_format.md §4).

    Formula: over the last **N closes** ``P_{t−N+1} … P_t`` (today's included; unlike a return window there is no
    extra anchor close), ``100 · max_{t−N+1 ≤ i ≤ j ≤ t} (1 − P_j / P_i)`` = ``100 · max_j (1 − P_j / max_{i ≤ j}
    P_i)``; peaks before the window do not count. Computed as an O(T·N) numpy sliding window.

    Args:
        closes: wide adjusted closes, index = sessions (ascending), columns = tickers, float64, NaN before a
            ticker's first bar.
        window: N ≥ 1 trading days (N = 1 is a single close: always 0).

    Returns:
        Frame of ``closes``'s shape, in **percent**, ≥ 0 (``5.0`` = a 5 % drawdown); NaN until N closes exist.

    Source: VERIFIED — composer_format.md §4: N closes reproduce a year of Composer's own daily allocations of a
    max-drawdown switch (window 20), N+1 and N−1 closes miss 3 days each (issue 9).
    """
    n = _check_window("max-drawdown", window)
    frame = _check_closes("max-drawdown", closes)
    width = n
    block = max(1, _MDD_BLOCK_ELEMENTS // width)

    def kernel(x: np.ndarray) -> np.ndarray:
        out = np.full(x.shape, np.nan)
        if x.size < width:
            return out
        windows = sliding_window_view(x, width)  # row k holds x[k : k + width], ending on session k + width - 1
        for start in range(0, windows.shape[0], block):
            part = windows[start:start + block]
            peaks = np.maximum.accumulate(part, axis=1)
            out[width - 1 + start:width - 1 + start + part.shape[0]] = 100.0 * (1.0 - part / peaks).max(axis=1)
        return out

    return _per_column(frame, kernel)


# ---------------------------------------------------------------------------------------------------------------
# The six multi-parameter functions: PPO, MACD (and their signal lines), Bollinger bands
# ---------------------------------------------------------------------------------------------------------------

def _ema(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    """EMA(n) of each column's run of values, seeded as ``exponential-moving-average-price`` (TA-Lib ``EMA``:
    α = 2/(n+1), first value = SMA of the first n values, on the n-th value)."""
    return _per_column(frame, lambda x: talib.EMA(x, timeperiod=n))


def _emas(fn: str, closes: pd.DataFrame, short_window: int, long_window: int
          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validated ``(EMA_short, EMA_long)`` of the closes, each seeded on its own first N closes."""
    short = _check_window(fn, short_window, what="short-window")
    long = _check_window(fn, long_window, what="long-window")
    frame = _check_closes(fn, closes)
    return _ema(frame, short), _ema(frame, long)


def moving_average_convergence_divergence(closes: pd.DataFrame, short_window: int,
                                          long_window: int) -> pd.DataFrame:
    """MACD line: ``moving-average-convergence-divergence`` (composer_format.md §4).

    Formula: ``EMA_S(P)_t − EMA_L(P)_t`` with S = ``short-window``, L = ``long-window``; each EMA is
    ``exponential-moving-average-price`` of the closes (α = 2/(N+1), seeded with the SMA of the ticker's first N
    closes *of the frame passed in*, docs/semantics.md §3.2). Not TA-Lib's ``MACD``: that seeds the short EMA
    L − S closes later (on the closes that end where the long EMA's seed ends), so its values differ while the
    short seed still weighs.

    Args:
        closes: wide adjusted closes, index = sessions (ascending), columns = tickers, float64, NaN before a
            ticker's first bar.
        short_window: S ≥ 1 trading days (Composer key ``short-window``; usually 12).
        long_window: L ≥ 1 trading days (``long-window``; usually 26). S < L is usual but not required.

    Returns:
        Frame of ``closes``'s shape, in **dollars** (a price difference, so it scales with the price level);
        NaN until max(S, L) closes exist.

    Source: INFERRED — the standard MACD (Appel); Composer documents no formula and no Composer value exists;
    the keys are INFERRED from PPO's (composer_format.md §4: MACD never seen in a real symphony).
    """
    fn = "moving-average-convergence-divergence"
    ema_short, ema_long = _emas(fn, closes, short_window, long_window)
    return ema_short - ema_long


def moving_average_convergence_divergence_signal(closes: pd.DataFrame, short_window: int, long_window: int,
                                                 smooth_window: int) -> pd.DataFrame:
    """MACD signal line: ``moving-average-convergence-divergence-signal`` (composer_format.md §4).

    Formula: ``EMA_M(MACD_{S,L})_t`` — the EMA with M = ``smooth-window`` of
    :func:`moving_average_convergence_divergence`, seeded the same way: the SMA of the first M MACD values, on the
    M-th one, then ``α = 2/(M+1)``.

    Args:
        closes: wide adjusted closes (see :func:`moving_average_convergence_divergence`).
        short_window: S ≥ 1 (``short-window``).
        long_window: L ≥ 1 (``long-window``).
        smooth_window: M ≥ 1 (``smooth-window``; usually 9). M = 1 returns the MACD line.

    Returns:
        Frame of ``closes``'s shape, in **dollars**; NaN until max(S, L) + M − 1 closes exist.

    Source: INFERRED (standard MACD signal line; keys INFERRED from ``percentage-price-oscillator-signal``).
    """
    fn = "moving-average-convergence-divergence-signal"
    smooth = _check_window(fn, smooth_window, what="smooth-window")
    ema_short, ema_long = _emas(fn, closes, short_window, long_window)
    return _ema(ema_short - ema_long, smooth)


def percentage_price_oscillator(closes: pd.DataFrame, short_window: int, long_window: int) -> pd.DataFrame:
    """Percentage price oscillator: ``percentage-price-oscillator`` (composer_format.md §3–§4).

    Formula: ``100 · (EMA_S(P)_t − EMA_L(P)_t) / EMA_L(P)_t`` — the MACD line as a percentage of the long EMA,
    with the EMAs of :func:`moving_average_convergence_divergence` (TA-Lib ``EMA`` seeding; not TA-Lib's ``PPO``,
    whose default moving average is the SMA and whose EMA variant seeds the short EMA late).

    Args:
        closes: wide adjusted closes, index = sessions (ascending), columns = tickers, float64, NaN before a
            ticker's first bar.
        short_window: S ≥ 1 trading days (``short-window``, e.g. 12 in ``{:short-window 12, :long-window 26}``).
        long_window: L ≥ 1 trading days (``long-window``, e.g. 26).

    Returns:
        Frame of ``closes``'s shape, in **percent** (``1.5`` = the short EMA is 1.5 % above the long one);
        NaN until max(S, L) closes exist.

    Source: INFERRED — the standard PPO, as composer_format.md §4 states it; used in real symphonies
    (6 corpus files) but no Composer value exists to check it against. Units (percent, not fraction) OPEN.
    """
    fn = "percentage-price-oscillator"
    ema_short, ema_long = _emas(fn, closes, short_window, long_window)
    return 100.0 * (ema_short - ema_long) / ema_long


def percentage_price_oscillator_signal(closes: pd.DataFrame, short_window: int, long_window: int,
                                       smooth_window: int) -> pd.DataFrame:
    """PPO signal line: ``percentage-price-oscillator-signal`` (composer_format.md §3–§4).

    Formula: ``EMA_M(PPO_{S,L})_t`` — the EMA with M = ``smooth-window`` of :func:`percentage_price_oscillator`,
    seeded with the SMA of the first M PPO values (on the M-th), then ``α = 2/(M+1)``.

    Args:
        closes: wide adjusted closes (see :func:`percentage_price_oscillator`).
        short_window: S ≥ 1 (``short-window``).
        long_window: L ≥ 1 (``long-window``).
        smooth_window: M ≥ 1 (``smooth-window``, e.g. 9). M = 1 returns the PPO.

    Returns:
        Frame of ``closes``'s shape, in **percent**; NaN until max(S, L) + M − 1 closes exist.

    Source: INFERRED (standard PPO signal line; composer_format.md §4).
    """
    fn = "percentage-price-oscillator-signal"
    smooth = _check_window(fn, smooth_window, what="smooth-window")
    ema_short, ema_long = _emas(fn, closes, short_window, long_window)
    return _ema(100.0 * (ema_short - ema_long) / ema_long, smooth)


def _bollinger(fn: str, closes: pd.DataFrame, window: int, num_std: float, sign: float) -> pd.DataFrame:
    n = _check_window(fn, window, minimum=2)
    k = _check_width(fn, num_std)
    frame = _check_closes(fn, closes)
    rolling = frame.rolling(n, min_periods=n)
    return rolling.mean() + sign * k * rolling.std(ddof=1)


def upper_bollinger(closes: pd.DataFrame, window: int,
                    num_std: float = BOLLINGER_DEFAULT_WIDTH) -> pd.DataFrame:
    """Upper Bollinger band: ``upper-bollinger`` (composer_format.md §4).

    Formula: ``SMA_N(P)_t + k · σ_N(P)_t`` — :func:`moving_average_price` plus k times
    :func:`standard_deviation_price` (sample, ddof = 1) over the same last N closes.

    Args:
        closes: wide adjusted closes, index = sessions (ascending), columns = tickers, float64, NaN before a
            ticker's first bar.
        window: N ≥ 2 trading days (key ``window``; ddof = 1 needs two closes).
        num_std: k > 0 standard deviations (key ``num-std``, synonym ``std-dev``); default 2. Symphonies can only
            give integers (the model's params are integers); direct callers may pass any positive number.

    Returns:
        Frame of ``closes``'s shape, in **dollars**; NaN until N closes exist.

    Source: OPEN — composer_format.md §4 gives only "SMA ± k·σ"; Composer's parameter keys, its default k and its
    σ (ddof) are unknown. ddof = 1 matches ``standard-deviation-price``; k = 2 is Bollinger's standard width.
    """
    return _bollinger("upper-bollinger", closes, window, num_std, +1.0)


def lower_bollinger(closes: pd.DataFrame, window: int,
                    num_std: float = BOLLINGER_DEFAULT_WIDTH) -> pd.DataFrame:
    """Lower Bollinger band: ``lower-bollinger`` (composer_format.md §4).

    Formula: ``SMA_N(P)_t − k · σ_N(P)_t`` (see :func:`upper_bollinger`; σ sample, ddof = 1).

    Args:
        closes: wide adjusted closes, index = sessions (ascending), columns = tickers, float64, NaN before a
            ticker's first bar.
        window: N ≥ 2 trading days (key ``window``).
        num_std: k > 0 standard deviations (key ``num-std``, synonym ``std-dev``); default 2.

    Returns:
        Frame of ``closes``'s shape, in **dollars** (may be negative for a very volatile series); NaN until N
        closes exist.

    Source: OPEN, as :func:`upper_bollinger`.
    """
    return _bollinger("lower-bollinger", closes, window, num_std, -1.0)


# ---------------------------------------------------------------------------------------------------------------
# Dispatch by JSON name
# ---------------------------------------------------------------------------------------------------------------

def compute_indicator(fn: str, closes: pd.DataFrame, window: int | None,
                      params: tuple[tuple[str, int], ...] = ()) -> pd.DataFrame:
    """Compute indicator ``fn`` (JSON name) for every ticker and session of ``closes``.

    Dispatch goes through the function registry (:data:`engine.functions.FUNCTIONS`), which maps ``window`` and
    ``params`` onto the keyword arguments of the function above.

    Args:
        fn: JSON function name, a key of :data:`engine.functions.FUNCTIONS` (e.g. ``"relative-strength-index"``).
        closes: wide adjusted closes, index = sessions (``DatetimeIndex``, ascending), columns = tickers, float64,
            NaN before a ticker's first bar.
        window: trading days; None for ``current-price`` and for PPO / MACD and their signals.
        params: ``(key, value)`` pairs (as :attr:`engine.model.IndicatorRef.params`, any order):
            empty for the nine core functions; ``long-window``, ``short-window`` (+ ``smooth-window`` for the
            signals) for PPO / MACD, all required; optionally ``num-std`` (synonym ``std-dev``) for the Bollinger
            bands, whose N is ``window``.

    Returns:
        Frame of ``closes``'s index and columns, in the units of ``fn`` (see each function), NaN during warm-up.

    Raises:
        ValueError: unknown ``fn``, missing or invalid ``window``, unknown, missing or invalid ``params``, or
            ``closes`` breaking the input contract — the message names the function and the problem.
    """
    from engine.functions import compute  # the registry imports this module's functions

    return compute(fn, closes, window, params)


# ---------------------------------------------------------------------------------------------------------------
# The same fifteen functions on one 1-D series (the evaluator's inner loop: no frame, no per-call validation)
# ---------------------------------------------------------------------------------------------------------------

def check_series(name: str, values: np.ndarray, index: pd.Index | None = None, fn: str | None = None) -> None:
    """Check one series against the input contract of the module docstring (one contiguous run of values).

    Args:
        name: the series' name in the error message (a ticker).
        values: 1-D float64 array over sessions, NaN before the first and after the last value allowed.
        index: the sessions of ``values`` (the error names the session of the gap), else the row is named.
        fn: the function name that prefixes the message, if any.

    Raises:
        ValueError: a NaN between the first and the last value.
    """
    valid = ~np.isnan(values)
    if not valid.any():
        return
    rows = np.flatnonzero(valid)
    lo, hi = rows[0], rows[-1] + 1
    if rows.size < hi - lo:
        gap = lo + int(np.flatnonzero(~valid[lo:hi])[0])
        where = repr(index[gap]) if index is not None else f"row {gap}"
        prefix = f"{fn}: " if fn else ""
        raise ValueError(f"{prefix}closes of {name!r} have a gap at {where} (NaN between the first and last bar); "
                         "forward-fill interior gaps first")


def _run_1d(x: np.ndarray, kernel: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """:func:`_per_column` for one series: ``kernel`` on the run of values, NaN elsewhere."""
    out = np.full(x.shape, np.nan)
    rows = np.flatnonzero(~np.isnan(x))
    if rows.size:
        lo, hi = rows[0], rows[-1] + 1
        out[lo:hi] = kernel(x[lo:hi])
    return out


def _shift_1d(x: np.ndarray, n: int) -> np.ndarray:
    """``x`` moved ``n`` sessions later (NaN in the first ``n``), as ``DataFrame.shift(n)``."""
    out = np.full(x.shape, np.nan)
    if n < x.size:
        out[n:] = x[:x.size - n]
    return out


def _ratio_1d(x: np.ndarray, n: int) -> np.ndarray:
    """``x_t / x_{t−n} − 1`` (NaN where undefined), elementwise as the frame form ``frame / frame.shift(n) - 1``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return x / _shift_1d(x, n) - 1.0


def _rolling_1d(x: np.ndarray, n: int):
    return pd.Series(x, copy=False).rolling(n, min_periods=n)


def _pandas_window_kernels():
    """pandas' own Cython kernels behind ``Series.rolling(n, min_periods=n).mean()`` / ``.std(ddof=1)``
    (``pandas._libs.window.aggregations.roll_mean`` / ``roll_var``), or None when this pandas has other ones.

    Calling them directly on the bounds pandas would compute (a fixed window: ``end = 1..T``,
    ``start = max(end − n, 0)``) gives the same numbers without building a Series and a Rolling object per call
    (~0.3 ms each, most of an indicator's cost on 5,000 sessions). Checked once against the public API here; a
    pandas whose kernels differ (name, signature or result) makes :func:`_rolling_mean_1d` / :func:`_rolling_std_1d`
    use the public API instead.
    """
    try:
        from pandas._libs.window.aggregations import roll_mean, roll_var

        probe = np.array([np.nan, 1.0, 2.5, np.inf, 4.0, 3.0, -1.0, 7.25, 7.25, 7.25, 0.5])
        kernels = (roll_mean, roll_var)
        for n in (1, 2, 3, 12):
            fast = (_fast_rolling(probe, n, kernels, "mean"), _fast_rolling(probe, n, kernels, "std"))
            slow = (_rolling_1d(probe, n).mean().to_numpy(), _rolling_1d(probe, n).std(ddof=1).to_numpy())
            if not all(np.array_equal(a, b, equal_nan=True) for a, b in zip(fast, slow)):
                return None
        return kernels
    except Exception:  # noqa: BLE001 - any mismatch means: use the public API
        return None


def _fast_rolling(x: np.ndarray, n: int, kernels, what: str) -> np.ndarray:
    """``what`` ("mean" or "std", ddof 1) over the last ``n`` values with ``min_periods = n``, as pandas does it:
    inf → NaN first (``Rolling._prep_values``), then the kernel on fixed-window bounds; std = ``zsqrt`` of the
    variance (negative rounding residue → 0)."""
    v = np.asarray(x, dtype=np.float64)
    if v.size == 0:
        return v.copy()
    inf = np.isinf(v)
    if inf.any():
        v = np.where(inf, np.nan, v)
    end = np.arange(1, v.size + 1, dtype=np.int64)
    start = np.clip(end - n, 0, v.size)
    with np.errstate(all="ignore"):
        if what == "mean":
            return np.asarray(kernels[0](v, start, end, n))
        var = np.asarray(kernels[1](v, start, end, n, ddof=1))
        out = np.sqrt(var)
        neg = var < 0
    if neg.any():
        out[neg] = 0
    return out


def _rolling_mean_1d(x: np.ndarray, n: int) -> np.ndarray:
    """``pd.Series(x).rolling(n, min_periods=n).mean().to_numpy()``, bit for bit (:func:`_pandas_window_kernels`)."""
    if _WINDOW_KERNELS is None:
        return _rolling_1d(x, n).mean().to_numpy()
    return _fast_rolling(x, n, _WINDOW_KERNELS, "mean")


def _rolling_std_1d(x: np.ndarray, n: int) -> np.ndarray:
    """``pd.Series(x).rolling(n, min_periods=n).std(ddof=1).to_numpy()``, bit for bit."""
    if _WINDOW_KERNELS is None:
        return _rolling_1d(x, n).std(ddof=1).to_numpy()
    return _fast_rolling(x, n, _WINDOW_KERNELS, "std")


_WINDOW_KERNELS = _pandas_window_kernels()


def _ema_1d(x: np.ndarray, n: int) -> np.ndarray:
    return _run_1d(x, lambda v: talib.EMA(v, timeperiod=n))


def _rsi_kernel(n: int) -> Callable[[np.ndarray], np.ndarray]:
    def kernel(x: np.ndarray) -> np.ndarray:
        rsi = talib.RSI(x, timeperiod=n)
        flat = np.zeros(x.shape, dtype=bool)
        flat[1:] = np.maximum.accumulate(np.abs(np.diff(x))) == 0.0
        return np.where(flat & ~np.isnan(rsi), FLAT_RSI, rsi)
    return kernel


def _mdd_kernel(width: int) -> Callable[[np.ndarray], np.ndarray]:
    block = max(1, _MDD_BLOCK_ELEMENTS // width)

    def kernel(x: np.ndarray) -> np.ndarray:
        out = np.full(x.shape, np.nan)
        if x.size < width:
            return out
        windows = sliding_window_view(x, width)
        for start in range(0, windows.shape[0], block):
            part = windows[start:start + block]
            peaks = np.maximum.accumulate(part, axis=1)
            out[width - 1 + start:width - 1 + start + part.shape[0]] = 100.0 * (1.0 - part / peaks).max(axis=1)
        return out
    return kernel


def _series_kernels() -> dict[str, Callable[..., np.ndarray]]:
    """JSON name → ``f(x, **kwargs) -> array``: the formulas of the frame functions above on one series, operation
    for operation (the same pandas rolling kernels, TA-Lib calls and elementwise order), so results are identical."""

    def rolling_std(x, n):
        return _rolling_std_1d(x, n)

    def bollinger(name, sign):
        def f(x, window, num_std=BOLLINGER_DEFAULT_WIDTH):
            n = _check_window(name, window, minimum=2)
            k = _check_width(name, num_std)
            return _rolling_mean_1d(x, n) + sign * k * _rolling_std_1d(x, n)
        return f

    def emas(x, short_window, long_window):
        return (_ema_1d(x, _check_window("ema", short_window, what="short-window")),
                _ema_1d(x, _check_window("ema", long_window, what="long-window")))

    def macd(x, short_window, long_window):
        es, el = emas(x, short_window, long_window)
        return es - el

    def macd_signal(x, short_window, long_window, smooth_window):
        m = _check_window("signal", smooth_window, what="smooth-window")
        es, el = emas(x, short_window, long_window)
        return _ema_1d(es - el, m)

    def ppo(x, short_window, long_window):
        es, el = emas(x, short_window, long_window)
        with np.errstate(divide="ignore", invalid="ignore"):
            return 100.0 * (es - el) / el

    def ppo_signal(x, short_window, long_window, smooth_window):
        m = _check_window("signal", smooth_window, what="smooth-window")
        es, el = emas(x, short_window, long_window)
        with np.errstate(divide="ignore", invalid="ignore"):
            return _ema_1d(100.0 * (es - el) / el, m)

    return {
        "current-price": lambda x: x.copy(),
        "cumulative-return": lambda x, window: 100.0 * _ratio_1d(x, _check_window("cumulative-return", window)),
        "moving-average-price": lambda x, window: _rolling_mean_1d(
            x, _check_window("moving-average-price", window)),
        "exponential-moving-average-price": lambda x, window: _ema_1d(
            x, _check_window("exponential-moving-average-price", window)),
        "moving-average-return": lambda x, window: 100.0 * _rolling_mean_1d(
            _ratio_1d(x, 1), _check_window("moving-average-return", window)),
        "relative-strength-index": lambda x, window: _run_1d(
            x, _rsi_kernel(_check_window("relative-strength-index", window, minimum=2))),
        "standard-deviation-price": lambda x, window: rolling_std(
            x, _check_window("standard-deviation-price", window, minimum=2)),
        "standard-deviation-return": lambda x, window: 100.0 * rolling_std(
            _ratio_1d(x, 1), _check_window("standard-deviation-return", window, minimum=2)),
        "max-drawdown": lambda x, window: _run_1d(x, _mdd_kernel(_check_window("max-drawdown", window))),
        "percentage-price-oscillator": ppo,
        "percentage-price-oscillator-signal": ppo_signal,
        "moving-average-convergence-divergence": macd,
        "moving-average-convergence-divergence-signal": macd_signal,
        "upper-bollinger": bollinger("upper-bollinger", +1.0),
        "lower-bollinger": bollinger("lower-bollinger", -1.0),
    }


_SERIES_KERNELS: dict[str, Callable[..., np.ndarray]] = _series_kernels()


def compute_series(fn: str, values: np.ndarray, window: int | None,
                   params: tuple[tuple[str, int], ...] = (), *, checked: bool = False,
                   name: str = "values") -> np.ndarray:
    """Indicator ``fn`` of one series: the column of :func:`compute_indicator` for that series, bit for bit.

    Args:
        fn: JSON function name (a key of :data:`engine.functions.FUNCTIONS`).
        values: 1-D float64 array over sessions (ascending), adjusted closes or a sub-strategy NAV; NaN may lead
            or trail the run of values.
        window: trading days (None for ``current-price`` and PPO / MACD and their signals).
        params: ``(key, value)`` pairs as in :func:`compute_indicator`.
        checked: the caller has already checked ``values`` with :func:`check_series` (the evaluator checks each
            price column once).
        name: the series' name in error messages (a ticker).

    Returns:
        A new float64 array of ``values``'s shape, in the units of ``fn``, NaN during warm-up.

    Raises:
        ValueError: as :func:`compute_indicator`.
    """
    from engine.functions import FUNCTIONS

    spec = FUNCTIONS.get(fn) if isinstance(fn, str) else None
    if spec is None:
        raise ValueError(f"{fn!r}: unknown indicator function (known: {', '.join(FUNCTIONS)})")
    x = np.asarray(values, dtype="float64")
    if x.ndim != 1:
        raise ValueError(f"{fn}: values must be one series (1-D), got shape {x.shape}")
    if not checked:
        check_series(name, x, fn=fn)
    return _SERIES_KERNELS[fn](x, **spec.keyword_arguments(window, params))
