"""Compiled simulation kernel: the per-session fill, slippage, fee and corridor arithmetic of a backtest.

:func:`simulate_arrays` is the loop :func:`engine.backtest.simulate_detailed` runs, compiled with Numba
(``@njit(cache=True)``: machine code kept on disk, compiled once per install and Numba/CPU version). It performs
the same floating-point operations in the same order as the NumPy loop it replaced (kept as the oracle in
``tests/engine/reference.py``), so its results are bit-identical to it, not merely close:

* every ``ndarray.sum()`` of the NumPy loop is :func:`_psum`, NumPy's own pairwise summation (blocks of 8
  partial sums up to 128 elements, halves above, 0.0 as the initial value); a plain running sum would differ in
  the last bits from 8 tickers on;
* elementwise expressions keep NumPy's association (``target·(post·(1/price))``, ``(qty·price)·(1−s)``) and
  Numba's default strict IEEE semantics (no fast-math, no fused multiply-add);
* fees are rounded per fill as :func:`engine.fees.ceil_to_cents` (``ceil(100·a − 1e-7)/100``), the TAF capped per
  fill, legs under :data:`engine.costs.MIN_FILL_NOTIONAL` free.

The cost model and its sources are documented in :mod:`engine.backtest` (slippage fixed point, composer_format.md
§6) and :mod:`engine.fees` (dated SEC / TAF / CAT rates).

On-disk cache (:func:`cache_dir`): ``NUMBA_CACHE_DIR`` when set; otherwise ``var/numba-cache`` of a source
checkout (an editable install) when writable, else ``$XDG_CACHE_HOME/oragami-composer/numba`` (``~/.cache/…``),
else a per-user folder under the temp dir; when none is writable the kernel is compiled in memory on first use in
each process (nothing fails). :func:`compile_seconds` reports what the first call of this process cost.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

#: reason codes of :func:`simulate_arrays` (``reason`` output) → the words of ``BacktestResult.rebalance_reasons``.
REASONS = np.array(["", "initial", "calendar", "branch switch", "corridor"], dtype=object)
#: rebalance modes of :func:`simulate_arrays`.
MODE_CALENDAR, MODE_THRESHOLD = 0, 1

_CENT_EPS = 1e-7           # engine.fees._CENT_EPS (same rounding guard)
_MIN_FILL_NOTIONAL = 0.01  # engine.costs.MIN_FILL_NOTIONAL (checked equal in tests/engine/test_kernel.py)


def _writable(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
        return True
    except OSError:
        return False


def cache_dir() -> Path | None:
    """Where the compiled kernel is kept on disk, or None when no candidate folder is writable.

    Order: ``NUMBA_CACHE_DIR``; ``<checkout>/var/numba-cache`` when this package sits in a source checkout (a
    ``pyproject.toml`` beside ``engine/``: an editable install) and that folder is writable;
    ``$XDG_CACHE_HOME/oragami-composer/numba`` (default ``~/.cache``); ``<tempdir>/oragami-composer-numba-<uid>``.
    """
    env = os.environ.get("NUMBA_CACHE_DIR")
    candidates: list[Path] = [Path(env)] if env else []
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file():
        candidates.append(checkout / "var" / "numba-cache")
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    candidates.append(Path(xdg) / "oragami-composer" / "numba")
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    candidates.append(Path(tempfile.gettempdir()) / f"oragami-composer-numba-{uid}")
    for c in candidates:
        if _writable(c):
            return c
    return None


class _DeferredBlasCheck:
    """Stands for ``numba.np.arraymath._HAVE_BLAS``: the same check (``scipy.linalg.cython_blas`` importable and
    of the right integer width), run the first time Numba reads the flag instead of when Numba's array functions
    are imported. Numba reads it only to pick the inner product of a compiled ``np.convolve`` / ``np.correlate``."""

    _value: bool | None = None

    def __bool__(self) -> bool:
        if self._value is None:
            from numba.np import arraymath
            type(self)._value = bool(arraymath._check_blas())
        return self._value


def _import_numba():
    """``import numba`` and its array functions without importing ``scipy.linalg`` (~0.3 s of CPU per process).

    Numba's ``numba.np.arraymath`` (imported when the CPU target is first used, e.g. to load the cached kernel)
    probes at import whether SciPy's BLAS can be imported, which imports all of ``scipy.linalg``; the kernel uses
    no BLAS. The probe is made to fail for the duration of that import (``sys.modules`` entry None, so nothing
    of SciPy is loaded) and the flag it sets is replaced by :class:`_DeferredBlasCheck`, the same probe run
    when Numba first reads it; ``np.dot`` and ``np.linalg`` in other jitted code import SciPy themselves as usual.
    When ``scipy.linalg.cython_blas`` is imported already, or ``numba.np.arraymath`` is, nothing is changed.
    """
    import sys

    import numba

    blas = "scipy.linalg.cython_blas"
    if "numba.np.arraymath" in sys.modules or blas in sys.modules:
        return numba
    sys.modules[blas] = None  # type: ignore[assignment]
    try:
        from numba.np import arraymath
    finally:
        if sys.modules.get(blas, 0) is None:
            del sys.modules[blas]
    arraymath._HAVE_BLAS = _DeferredBlasCheck()
    return numba


def _jit():
    """``numba.njit(cache=True)`` bound to :func:`cache_dir` (``cache=False`` when there is none).

    Numba picks a function's cache folder when it is decorated (``config.CACHE_DIR`` then); the setting is put
    back afterwards so that other Numba users in the process are not affected.
    """
    numba = _import_numba()
    from numba.core import config

    where = cache_dir()
    if where is None:
        return numba.njit(cache=False, nogil=True)
    def deco(fn):
        saved = config.CACHE_DIR
        config.CACHE_DIR = str(where)
        try:
            return numba.njit(cache=True, nogil=True)(fn)
        except RuntimeError:  # no cache locator after all: compile in memory
            return numba.njit(cache=False, nogil=True)(fn)
        finally:
            config.CACHE_DIR = saved
    return deco


_njit = _jit()


@_njit
def _block_sum(a, lo, n):
    """NumPy's pairwise-sum leaf over ``a[lo:lo+n]`` (n ≤ 128): 8 partial sums, combined as a tree, then the rest."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    stop = n - (n % 8)
    while i < stop:
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@_njit
def _pairwise(a, lo, n):
    """NumPy's pairwise sum of ``a[lo:lo+n]`` (``pairwise_sum_DOUBLE``): halves rounded down to a multiple of 8
    above 128 elements, leaves by :func:`_block_sum`; the recursion done with an explicit stack (a recursive
    function cannot be loaded back from Numba's on-disk cache)."""
    if n <= 128:
        return _block_sum(a, lo, n)
    s_lo = np.empty(64, dtype=np.int64)
    s_n = np.empty(64, dtype=np.int64)
    s_state = np.zeros(64, dtype=np.int64)
    vals = np.empty(64)
    top = 1
    vtop = 0
    s_lo[0] = lo
    s_n[0] = n
    s_state[0] = 0
    while top > 0:
        i = top - 1
        m = s_n[i]
        if m <= 128:
            vals[vtop] = _block_sum(a, s_lo[i], m)
            vtop += 1
            top -= 1
            continue
        n2 = m // 2
        n2 -= n2 % 8
        if s_state[i] == 0:      # left half first
            s_state[i] = 1
            s_lo[top] = s_lo[i]
            s_n[top] = n2
            s_state[top] = 0
            top += 1
        elif s_state[i] == 1:    # then the right half
            s_state[i] = 2
            s_lo[top] = s_lo[i] + n2
            s_n[top] = m - n2
            s_state[top] = 0
            top += 1
        else:                    # both done: left + right
            vals[vtop - 2] = vals[vtop - 2] + vals[vtop - 1]
            vtop -= 1
            top -= 1
    return vals[0]


@_njit
def _psum(a, n):
    """``a[:n].sum()`` exactly as NumPy computes it (initial value 0.0, then the pairwise sum)."""
    return 0.0 + _pairwise(a, 0, n)


@_njit
def _ceil_cent(x):
    """:func:`engine.fees.ceil_to_cents` of one amount (non-positive → 0)."""
    if x > 0.0:
        return np.ceil(x * 100.0 - _CENT_EPS) / 100.0
    return 0.0


@_njit
def simulate_arrays(prices, targets, trade_days, mode, corridor, has_corridor, capital, slippage, fee_slippage,
                    fees_on, sec_rate, taf_rate, taf_cap, cat_rate):
    """One backtest path: trades at each session's close, holdings drift in between (arrays only).

    Args:
        prices: (T, K) float64 C-contiguous closes, NaN where there is none (carried forward here; leading gaps 0).
        targets: (T, K) float64 target weights (fractions, row sum ≤ 1).
        trade_days: (T,) bool calendar rebalance days (read in ``MODE_CALENDAR`` only).
        mode: ``MODE_CALENDAR`` (trade on ``trade_days``) or ``MODE_THRESHOLD`` (trade on a change of the held
            set, or, with ``has_corridor``, when some ``|w − target| > corridor + 1e-12``).
        corridor: band width (fraction); has_corridor: whether there is one.
        capital: starting cash, USD. slippage: fraction of traded notional in the fixed point;
        fee_slippage: the cost model's slippage, used for the SEC fee's sale principal.
        fees_on: whether any regulatory fee is on; sec_rate, taf_rate, taf_cap, cat_rate: (T,) float64 rates per
            session (USD per USD sold, USD per share sold, USD cap per sell fill, USD per share traded; 0 = off).

    Returns:
        ``(nav (T,), shares (T, K), traded (T,) bool, slippage (T,), reg (T,), taf (T,), cat (T,),
        weights (T, K), cash (T,), turnover (T,), reason (T,) int8 codes of REASONS, missing (T, K) bool)``,
        USD unless stated, as :class:`engine.backtest.Simulation`.
    """
    T, K = prices.shape
    nav = np.empty(T)
    slip = np.zeros(T)
    reg = np.zeros(T)
    taf = np.zeros(T)
    cat = np.zeros(T)
    reason = np.zeros(T, dtype=np.int8)
    missing = np.zeros((T, K), dtype=np.bool_)
    turnover = np.zeros(T)
    traded = np.zeros(T, dtype=np.bool_)
    held_shares = np.empty((T, K))
    vweights = np.empty((T, K))
    cash_end = np.empty(T)

    filled = np.empty((T, K))
    inv_filled = np.empty((T, K))
    for k in range(K):
        last = np.nan
        for t in range(T):
            p = prices[t, k]
            if not np.isnan(p):
                last = p
            v = 0.0 if np.isnan(last) else last
            filled[t, k] = v
            inv_filled[t, k] = 1.0 / v if v > 0 else 0.0

    shares = np.zeros(K)
    new_shares = np.zeros(K)
    hold = np.zeros(K)
    new_hold = np.zeros(K)
    delta = np.zeros(K)
    buf = np.zeros(K)
    cash = capital
    thr = corridor + 1e-12
    keep_sale = 1.0 - fee_slippage
    for t in range(T):
        for k in range(K):
            hold[k] = shares[k] * filled[t, k]
        value = cash + _psum(hold, K)
        code = 0
        if t == 0:
            do_trade = True
            code = 1
        elif mode == MODE_CALENDAR:
            do_trade = trade_days[t]
            if do_trade:
                code = 2
        else:
            do_trade = False
            for k in range(K):
                if (targets[t, k] > 1e-12) != (shares[k] > 1e-12):
                    do_trade = True
                    break
            if do_trade:
                code = 3
            elif has_corridor:
                for k in range(K):
                    w = hold[k] / value if value > 0 else 0.0
                    if abs(w - targets[t, k]) > thr:
                        do_trade = True
                        break
                if do_trade:
                    code = 4
        for k in range(K):
            if not np.isfinite(prices[t, k]):
                held = shares[k] > 1e-12
                if do_trade and targets[t, k] > 1e-12:
                    held = True
                missing[t, k] = held
        if do_trade:
            post = value
            for _ in range(50):
                for k in range(K):
                    buf[k] = abs(targets[t, k] * post - hold[k])
                new_post = value - slippage * _psum(buf, K)
                av = abs(value)
                if abs(new_post - post) <= 1e-10 * (av if av > 1.0 else 1.0):
                    post = new_post
                    break
                post = new_post
            for k in range(K):
                new_shares[k] = targets[t, k] * (post * inv_filled[t, k])
                buf[k] = new_shares[k] * filled[t, k]
            new_cash = post - _psum(buf, K)
            slip[t] = value - post
            if fees_on:
                for k in range(K):
                    delta[k] = new_shares[k] - shares[k]
                sec = 0.0
                tf = 0.0
                ct = 0.0
                n_sold = 0
                n_real = 0
                for k in range(K):
                    q = abs(delta[k])
                    if q * filled[t, k] >= _MIN_FILL_NOTIONAL:
                        n_real += 1
                        if delta[k] < 0:
                            n_sold += 1
                if n_sold > 0:
                    if sec_rate[t] > 0:
                        n = 0
                        for k in range(K):
                            q = abs(delta[k])
                            if q * filled[t, k] >= _MIN_FILL_NOTIONAL and delta[k] < 0:
                                buf[n] = _ceil_cent(sec_rate[t] * (q * filled[t, k] * keep_sale))
                                n += 1
                        sec = _psum(buf, n)
                    if taf_rate[t] > 0:
                        n = 0
                        for k in range(K):
                            q = abs(delta[k])
                            if q * filled[t, k] >= _MIN_FILL_NOTIONAL and delta[k] < 0:
                                c = _ceil_cent(taf_rate[t] * q)
                                if taf_cap[t] < c:
                                    c = taf_cap[t]
                                buf[n] = c
                                n += 1
                        tf = _psum(buf, n)
                if n_real > 0 and cat_rate[t] > 0:
                    n = 0
                    for k in range(K):
                        q = abs(delta[k])
                        if q * filled[t, k] >= _MIN_FILL_NOTIONAL:
                            buf[n] = _ceil_cent(cat_rate[t] * q)
                            n += 1
                    ct = _psum(buf, n)
                reg[t] = sec
                taf[t] = tf
                cat[t] = ct
                fee = sec + tf + ct
                new_cash -= fee
                if fee > 0.0 and new_cash < 0.0:
                    # sells before buys: the buys get what is left after the sells and the fees
                    n = 0
                    for k in range(K):
                        if delta[k] > 0:
                            buf[n] = delta[k] * filled[t, k]
                            n += 1
                    bought = _psum(buf, n)
                    buy_cost = bought * (1.0 + slippage)
                    if buy_cost > 0.0:
                        x = 1.0 - (-new_cash) / buy_cost
                        scale = x if x > 0.0 else 0.0
                        for k in range(K):
                            if delta[k] > 0:
                                new_shares[k] = shares[k] + scale * delta[k]
                        new_cash += (1.0 - scale) * buy_cost
                        slip[t] -= (1.0 - scale) * bought * slippage
            for k in range(K):
                new_hold[k] = new_shares[k] * filled[t, k]
            if reg[t] + taf[t] + cat[t] > 0.0:
                new_value = new_cash + _psum(new_hold, K)
            else:
                new_value = post  # without a fee: exactly the slippage fixed point
            if value > 0 and new_value > 0:
                for k in range(K):
                    buf[k] = abs(new_hold[k] / new_value - hold[k] / value)
                turnover[t] = 0.5 * (_psum(buf, K) + abs(new_cash / new_value - cash / value))
            for k in range(K):
                shares[k] = new_shares[k]
                hold[k] = new_hold[k]
            cash = new_cash
            value = new_value
            traded[t] = True
            reason[t] = code
        nav[t] = value
        cash_end[t] = cash
        for k in range(K):
            held_shares[t, k] = shares[k]
            vweights[t, k] = hold[k] / value if value > 0 else 0.0
    return (nav, held_shares, traded, slip, reg, taf, cat, vweights, cash_end, turnover, reason, missing)


_COMPILE_SECONDS: float | None = None


def run(prices: np.ndarray, targets: np.ndarray, trade_days: np.ndarray | None, *, corridor: float | None,
        capital: float, slippage: float, fee_slippage: float, rates: dict[str, np.ndarray] | None) -> tuple:
    """:func:`simulate_arrays` on any array layout (converted to C-contiguous float64 / bool once).

    ``trade_days`` None = threshold mode (``corridor`` None: trade only on a change of the held set); ``rates``
    None = every fee off, else :meth:`engine.costs.CostModel.session_rates`. Returns the kernel's tuple with
    ``reason`` as the words of :data:`REASONS`.
    """
    global _COMPILE_SECONDS
    prices = np.ascontiguousarray(prices, dtype=np.float64)
    T, K = prices.shape
    targets = np.ascontiguousarray(targets, dtype=np.float64)
    if targets.shape != (T, K):
        raise ValueError(f"targets shape {targets.shape} differs from prices shape {(T, K)}")
    if trade_days is None:
        mode, days = MODE_THRESHOLD, np.zeros(T, dtype=np.bool_)
    else:
        mode, days = MODE_CALENDAR, np.ascontiguousarray(trade_days, dtype=np.bool_)
    zeros = np.zeros(T)
    if rates is None:
        fees_on, sec, tafr, cap, catr = False, zeros, zeros, zeros, zeros
    else:
        fees_on = True
        sec, tafr, cap, catr = (np.ascontiguousarray(rates[k], dtype=np.float64)
                                for k in ("sec_rate", "taf_per_share", "taf_cap", "cat_per_share"))
    first = _COMPILE_SECONDS is None
    t0 = time.process_time()
    out = simulate_arrays(prices, targets, days, mode, float(corridor) if corridor is not None else 0.0,
                          corridor is not None, float(capital), float(slippage), float(fee_slippage), fees_on,
                          sec, tafr, cap, catr)
    if first:
        _COMPILE_SECONDS = time.process_time() - t0
    return out[:10] + (REASONS[out[10]], out[11])


def compile_seconds() -> float | None:
    """CPU seconds of this process's first :func:`run` (compile or cache load + one run), None before it."""
    return _COMPILE_SECONDS


def warm_up() -> float:
    """Compile (or load from the on-disk cache) the kernel with the argument types the backtest uses (one
    signature, fees on or off); CPU seconds it took."""
    t0 = time.process_time()
    p = np.array([[1.0, 2.0], [1.5, np.nan]])
    w = np.array([[0.5, 0.5], [1.0, 0.0]])
    rates = {k: np.array([1e-5, 1e-5]) for k in ("sec_rate", "taf_per_share", "taf_cap", "cat_per_share")}
    run(p, w, np.array([True, True]), corridor=None, capital=100.0, slippage=1e-4, fee_slippage=1e-4, rates=rates)
    run(p, w, None, corridor=0.05, capital=100.0, slippage=0.0, fee_slippage=0.0, rates=None)
    return time.process_time() - t0
