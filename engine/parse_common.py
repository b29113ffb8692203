"""Helpers shared by the JSON/EDN score parser and the defsymphony parser (composer_format.md §2–§4).

Everything here raises :class:`~engine.errors.SymphonyParseError` naming the node path and the field, and emits
:class:`~engine.errors.SymphonyWarning` for documented repairs. The file name (``source``) is added by the public
functions in :mod:`engine.parsing`.
"""
from __future__ import annotations

import math
import re
import warnings
from decimal import Decimal
from fractions import Fraction
from typing import Any, NoReturn

from engine.errors import SymphonyParseError, SymphonyWarning
from engine.model import DEFSYMPHONY_FUNCTION_ALIASES, FUNCTIONS

#: Functions whose only parameter is ``window`` (composer_format.md §4): every core function but ``current-price``.
WINDOWED_FUNCTIONS: frozenset[str] = frozenset(FUNCTIONS[1:9])

#: Multi-window functions and the parameters they need (composer_format.md §3–§4; MACD keys INFERRED from PPO).
MULTI_WINDOW_FUNCTIONS: dict[str, tuple[str, ...]] = {
    "percentage-price-oscillator": ("short-window", "long-window"),
    "percentage-price-oscillator-signal": ("short-window", "long-window", "smooth-window"),
    "moving-average-convergence-divergence": ("short-window", "long-window"),
    "moving-average-convergence-divergence-signal": ("short-window", "long-window", "smooth-window"),
}

#: Order of the extra parameters in :attr:`IndicatorRef.params` (then any other key, alphabetically).
_PARAM_ORDER = ("short-window", "long-window", "smooth-window")

#: Tolerance on the sum of specified weights: sums within it (display rounding such as 3 × 0.3333) are normalised
#: silently; larger deviations are normalised with a :class:`SymphonyWarning`.
WEIGHT_SUM_TOLERANCE = 1e-3

COMPARATORS: frozenset[str] = frozenset({"gt", "gte", "lt", "lte", "eq"})

_NUMERIC_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def fail(message: str, path: str | None = None, field: str | None = None) -> NoReturn:
    """Raise a :class:`SymphonyParseError` for ``path``/``field``."""
    raise SymphonyParseError(message, node_path=path, field=field)


def warn(message: str, source: str | None, path: str | None, field: str | None) -> None:
    """Emit a :class:`SymphonyWarning` naming the file, node and field."""
    warnings.warn(SymphonyWarning(message, source=source, node_path=path, field=field), stacklevel=4)


def describe(value: Any) -> str:
    """Short ``repr`` of a value for error messages."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def to_number(value: Any, path: str, field: str) -> float:
    """A number or a numeric string (``"60"``, ``"66.67"``, ``"01"``, ``"NaN"``) as ``float``; NaN passes through."""
    if isinstance(value, bool):
        fail(f"expected a number, got {describe(value)}", path, field)
    if isinstance(value, (int, float, Decimal, Fraction)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if _NUMERIC_RE.match(text):
            return float(text)
        if text.lower() in ("nan", "##nan"):
            return math.nan
    fail(f"expected a number, got {describe(value)}", path, field)


def to_positive_int(value: Any, path: str, field: str, what: str = "window") -> int:
    """A positive integer given as int, integral float or numeric string (``"14"``); anything else is an error."""
    if isinstance(value, bool) or value is None:
        fail(f"bad {what} {describe(value)}: expected a positive integer", path, field)
    try:
        number = to_number(value, path, field)
    except SymphonyParseError:
        fail(f"bad {what} {describe(value)}: expected a positive integer", path, field)
    if not math.isfinite(number) or number != int(number) or number <= 0:
        fail(f"bad {what} {describe(value)}: expected a positive integer", path, field)
    return int(number)


def normalise_ticker(value: Any, path: str, field: str) -> str:
    """Composer ticker: strip ``EQUITIES::`` / ``//USD`` (``EQUITIES::SPY//USD`` → ``SPY``), upper-case.

    ``BRK/B`` stays as it is (Xignite class-share spelling). Crypto tickers (``CRYPTO::BTC//USD``) are kept whole
    (upper-cased) so that they stay distinguishable from equities. ``%`` (the binary-compound placeholder) passes.
    """
    if not isinstance(value, str) or not value.strip():
        fail(f"missing or empty ticker (got {describe(value)})", path, field)
    ticker = value.strip().upper()
    if ticker.startswith("EQUITIES::"):
        ticker = ticker[len("EQUITIES::"):]
        if ticker.endswith("//USD"):
            ticker = ticker[: -len("//USD")]
    if not ticker or any(ch.isspace() for ch in ticker):
        fail(f"bad ticker {describe(value)}", path, field)
    return ticker


def check_function(name: Any, path: str, field: str, *, aliases: bool = False) -> str:
    """Validate an indicator function name against :data:`engine.model.FUNCTIONS` (defsymphony aliases optional)."""
    if not isinstance(name, str) or not name:
        fail(f"missing or bad function name {describe(name)}", path, field)
    if aliases:
        name = DEFSYMPHONY_FUNCTION_ALIASES.get(name, name)
    if name not in FUNCTIONS:
        fail(f"unknown function '{name}' (expected one of: {', '.join(FUNCTIONS)})", path, field)
    return name


def function_params(fn: str, params: dict[str, Any], path: str, field: str) -> tuple[int | None,
                                                                                   tuple[tuple[str, int], ...]]:
    """Split a function's parameter map into ``(window, extra params)`` and validate it.

    * ``current-price``: no parameters; any window given (stale UI value) is ignored → ``(None, ())``.
    * the eight windowed core functions: ``window`` required, nothing else allowed.
    * PPO / MACD (and their signals): ``short-window``, ``long-window`` (+ ``smooth-window``) required.
    * Bollinger bands (parameter keys OPEN, composer_format.md §4): whatever positive-integer parameters are given.
    """
    if fn == "current-price":
        return None, ()
    window: int | None = None
    extra: dict[str, int] = {}
    for key, value in params.items():
        if not isinstance(key, str):
            fail(f"bad parameter name {describe(key)} for '{fn}'", path, field)
        if key == "window":
            window = to_positive_int(value, path, field)
        else:
            extra[key] = to_positive_int(value, path, field, what=f"{key}")
    if fn in WINDOWED_FUNCTIONS:
        if window is None:
            fail(f"missing window for '{fn}'", path, field)
        if extra:
            fail(f"unexpected parameter(s) {sorted(extra)} for '{fn}' (only 'window')", path, field)
    elif fn in MULTI_WINDOW_FUNCTIONS:
        missing = [k for k in MULTI_WINDOW_FUNCTIONS[fn] if k not in extra]
        if missing:
            fail(f"missing parameter(s) {missing} for '{fn}'", path, field)
    ordered = [k for k in _PARAM_ORDER if k in extra] + sorted(k for k in extra if k not in _PARAM_ORDER)
    return window, tuple((k, extra[k]) for k in ordered)


def finalize_weights(raw: list[float], *, path: str, source: str | None,
                     child_paths: list[str]) -> tuple[float, ...]:
    """Turn the raw specified weights of a ``wt-cash-specified`` node into fractions summing to 1.

    Rules (composer_format.md §2.2 and §3, behaviour OPEN at Composer, chosen here):

    * **NaN weight** (``##NaN`` in defsymphony, ``"NaN"`` in JSON): the child is kept (so node paths do not move)
      with weight **0** — it receives nothing — and a :class:`SymphonyWarning` names the child's path.
    * **Sum not 1**: the weights are divided by their sum. If the sum differs from 1 by more than
      :data:`WEIGHT_SUM_TOLERANCE` a :class:`SymphonyWarning` names the node path and the sum (within the tolerance,
      display rounding such as 3 × 0.3333, it is silent).
    * Negative or infinite weights, or a sum of 0, are errors.
    """
    cleaned: list[float] = []
    for value, child_path in zip(raw, child_paths):
        if math.isnan(value):
            warn("weight is NaN; rule: the child is treated as weight 0 (it receives nothing)",
                 source, child_path, "weight")
            value = 0.0
        elif not math.isfinite(value) or value < 0:
            fail(f"bad weight {value!r}: expected a finite number >= 0", child_path, "weight")
        cleaned.append(value)
    total = math.fsum(cleaned)
    if total <= 0:
        fail("specified weights sum to 0: nothing to allocate", path, "weight")
    if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE:
        warn(f"specified weights sum to {total:.6g}, not 1; normalised to sum 1", source, path, "weight")
    if total != 1.0:
        cleaned = [w / total for w in cleaned]
    return tuple(cleaned)
