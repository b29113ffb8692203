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
from engine.model import (
    BOLLINGER_FUNCTIONS,
    BOLLINGER_WIDTH_KEYS,
    DEFSYMPHONY_FUNCTION_ALIASES,
    FUNCTIONS,
    MULTI_WINDOW_FUNCTIONS,
)

#: Functions whose only parameter is ``window`` (composer_format.md §4): every core function but ``current-price``.
WINDOWED_FUNCTIONS: frozenset[str] = frozenset(FUNCTIONS[1:9])

#: Tolerance on the sum of specified weights: sums within it (display rounding such as 3 × 0.3333) are normalised
#: silently; larger deviations are normalised with a :class:`SymphonyWarning`.
WEIGHT_SUM_TOLERANCE = 1e-3

#: Sums this close to 1 are float rounding of a distribution that already sums to 1 (e.g. weights normalised by an
#: earlier read and written back by :mod:`engine.export`): they are kept as they are, so that reading normalised
#: weights again gives the same floats (normalising twice would move them by an ulp).
WEIGHT_SUM_EXACT_TOLERANCE = 1e-12

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
    * the eight windowed core functions: ``window`` required, nothing else allowed → ``(N, ())``.
    * PPO / MACD and their signals (:data:`engine.model.MULTI_WINDOW_FUNCTIONS`): ``short-window`` and
      ``long-window`` (+ ``smooth-window`` for the signals) required, no defaults, no other key; a ``window``
      (stale UI value, or the older ``*-window-days`` field) is ignored → ``(None, sorted params)``.
    * upper/lower Bollinger: ``window`` required; the band width k optional under one of
      :data:`engine.model.BOLLINGER_WIDTH_KEYS` (synonyms, stored under the first); no other key
      → ``(N, ())`` or ``(N, (("num-std", k),))``.

    Every value must be a positive integer. Extra params are sorted by key, so equal references hash equal.
    Errors name the node path, the field and the function.
    """
    if fn == "current-price":
        return None, ()
    for key in params:
        if not isinstance(key, str):
            fail(f"bad parameter name {describe(key)} for '{fn}'", path, field)
    if fn in MULTI_WINDOW_FUNCTIONS:
        params = {k: v for k, v in params.items() if k != "window"}
    window: int | None = None
    extra: dict[str, int] = {}
    for key, value in params.items():
        if key == "window":
            window = to_positive_int(value, path, field)
        else:
            extra[key] = to_positive_int(value, path, field, what=key)
    if fn in WINDOWED_FUNCTIONS:
        if window is None:
            fail(f"missing window for '{fn}'", path, field)
        if extra:
            fail(f"unexpected parameter(s) {sorted(extra)} for '{fn}' (only 'window')", path, field)
    elif fn in MULTI_WINDOW_FUNCTIONS:
        required = MULTI_WINDOW_FUNCTIONS[fn]
        unknown = sorted(set(extra) - set(required))
        if unknown:
            fail(f"unknown parameter(s) {unknown} for '{fn}' (expected {', '.join(required)})", path, field)
        missing = [k for k in required if k not in extra]
        if missing:
            fail(f"missing parameter(s) {missing} for '{fn}' (expected {', '.join(required)})", path, field)
    elif fn in BOLLINGER_FUNCTIONS:
        if window is None:
            fail(f"missing window for '{fn}'", path, field)
        unknown = sorted(set(extra) - set(BOLLINGER_WIDTH_KEYS))
        if unknown:
            fail(f"unknown parameter(s) {unknown} for '{fn}' (expected 'window' and optionally one of "
                 f"{', '.join(BOLLINGER_WIDTH_KEYS)})", path, field)
        widths = [k for k in BOLLINGER_WIDTH_KEYS if k in extra]
        if len(widths) > 1:
            fail(f"band width given twice ({', '.join(widths)}) for '{fn}'", path, field)
        extra = {BOLLINGER_WIDTH_KEYS[0]: extra[widths[0]]} if widths else {}
    else:  # pragma: no cover - every name of FUNCTIONS falls in one of the branches above
        fail(f"no parameter rule for '{fn}'", path, field)
    return window, tuple(sorted(extra.items()))


def finalize_weights(raw: list[float], *, path: str, source: str | None,
                     child_paths: list[str]) -> tuple[float, ...]:
    """Turn the raw specified weights of a ``wt-cash-specified`` node into fractions summing to 1.

    Rules (composer_format.md §2.2 and §3, behaviour OPEN at Composer, chosen here):

    * **NaN weight** (``##NaN`` in defsymphony, ``"NaN"`` in JSON): the child is kept (so node paths do not move)
      with weight **0** — it receives nothing — and a :class:`SymphonyWarning` names the child's path.
    * **Sum not 1**: the weights are divided by their sum. If the sum differs from 1 by more than
      :data:`WEIGHT_SUM_TOLERANCE` a :class:`SymphonyWarning` names the node path and the sum (within the tolerance,
      display rounding such as 3 × 0.3333, it is silent). A sum within :data:`WEIGHT_SUM_EXACT_TOLERANCE` of 1 is
      float rounding and is left alone (reading already-normalised weights is idempotent).
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
    if abs(total - 1.0) > WEIGHT_SUM_EXACT_TOLERANCE:
        cleaned = [w / total for w in cleaned]
    return tuple(cleaned)
