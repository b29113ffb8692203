"""Helpers shared by the JSON/EDN score parser and the defsymphony parser (composer_format.md §2–§4).

Everything here raises :class:`~engine.errors.SymphonyParseError` (or its subclass
:class:`~engine.errors.SymphonyLimitError` for a limit) naming the node path and the field, and emits
:class:`~engine.errors.SymphonyWarning` for documented repairs. The file name (``source``) is added by the public
functions in :mod:`engine.parsing`. Function facts (names, aliases, parameter keys and bounds) come from the
registry :data:`engine.functions.FUNCTIONS`.

Bounds checked at parse time (every number the tree carries that feeds arithmetic; also in docs/semantics.md):

* **windows** — ``window``, ``short-window``/``long-window``/``smooth-window``, ``wt-inverse-vol`` ``window-days``:
  integers in ``[1, MAX_WINDOW]`` = ``[1, 10000]`` trading days (``[2, 10000]`` where the formula needs two values:
  RSI, both standard deviations, Bollinger). The corpus's largest is 600; 10,000 sessions is longer than any
  ticker's history, and keeps windows far inside the warehouse's int32 ``window`` column (a window of 2^31 used to
  pass validation and then stop every account's day with ``OverflowError``).
* **Bollinger width** ``num-std`` — integer in ``[1, MAX_BAND_WIDTH]`` = ``[1, 20]`` standard deviations.
* **select-n** — integer in ``[1, MAX_SELECT_N]`` = ``[1, 1000]`` (corpus: ≤ 8; more than the children keeps all).
* **specified weights** — each a finite fraction in ``[0, MAX_WEIGHT]`` = ``[0, 1000]`` (JSON ``num/den``; 1 =
  100 %) before normalisation; NaN is the documented weight-0 repair.
* **constants** on the right of a comparison — finite, ``|c| ≤ MAX_CONSTANT`` = ``1e9`` (corpus: −20 … 99.9;
  dollar thresholds of ``current-price`` stay far below).
* **corridor width** — a fraction in ``(0, 1]`` (composer_format.md §2.2).

Limits on the input as a whole (checked by :func:`check_text_limits` before any expensive work; corpus figures
from ``../shared/symphonies``): text ≤ :data:`MAX_INPUT_BYTES` (5 MiB; the largest real file is 327 KB),
bracket nesting ≤ :data:`MAX_NESTING` (200 levels; corpus max 115), at most :data:`MAX_BRACKETS` (200,000)
bracketed forms, and at most :data:`MAX_NODES` (20,000; corpus max 4,442) tree nodes (:func:`check_node_count`).
"""
from __future__ import annotations

import math
import re
import warnings
from decimal import Decimal
from fractions import Fraction
from typing import Any, NoReturn

import numpy as np

from engine.errors import SymphonyLimitError, SymphonyParseError, SymphonyWarning
from engine.functions import FUNCTIONS, MAX_WINDOW, FunctionSpec, resolve

#: Largest ``select-n`` of a filter.
MAX_SELECT_N = 1_000

#: Smallest ``wt-inverse-vol`` window: its σ is ``standard-deviation-return``, whose ddof = 1 needs 2 returns.
INVERSE_VOL_MIN_WINDOW: int = FUNCTIONS["standard-deviation-return"].params[0].minimum

#: Largest specified weight, as a fraction (1 = 100 %), before normalisation.
MAX_WEIGHT = 1_000.0

#: Largest absolute value of a comparison constant.
MAX_CONSTANT = 1e9

#: Largest input, in bytes of UTF-8 text (5 MiB).
MAX_INPUT_BYTES = 5 * 1024 * 1024

#: Deepest nesting of ``(``/``[``/``{`` outside strings and comments.
MAX_NESTING = 200

#: Most bracketed forms (``(``/``[``/``{`` outside strings and comments) in one input.
MAX_BRACKETS = 200_000

#: Most nodes in one symphony tree (JSON objects with a ``step`` / defsymphony node forms).
MAX_NODES = 20_000

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
    try:
        if isinstance(value, (int, float, Decimal, Fraction)):
            return float(value)
        if isinstance(value, str):
            text = value.strip()
            if len(text) <= 400 and _NUMERIC_RE.match(text):
                return float(text)
            if text.lower() in ("nan", "##nan"):
                return math.nan
    except (OverflowError, ValueError):  # float(10**400), Decimal('1e999999') and the like
        fail(f"number out of range: {describe(value)}", path, field)
    fail(f"expected a number, got {describe(value)}", path, field)


def to_positive_int(value: Any, path: str, field: str, what: str = "window", *, minimum: int = 1,
                    maximum: int = MAX_WINDOW) -> int:
    """An integer in ``[minimum, maximum]`` given as int, integral float or numeric string (``"14"``).

    Raises:
        SymphonyParseError: not a whole number, or outside the bounds (the message names both bounds).
    """
    if isinstance(value, bool) or value is None:
        fail(f"bad {what} {describe(value)}: expected a positive integer", path, field)
    try:
        number = to_number(value, path, field)
    except SymphonyParseError:
        fail(f"bad {what} {describe(value)}: expected a positive integer", path, field)
    if not math.isfinite(number) or number != int(number) or number <= 0:
        fail(f"bad {what} {describe(value)}: expected a positive integer", path, field)
    if not minimum <= number <= maximum:
        fail(f"{what} {describe(value)} out of bounds: expected an integer from {minimum} to {maximum}",
             path, field)
    return int(number)


def to_bounded_number(value: Any, path: str, field: str, *, bound: float = MAX_CONSTANT,
                      what: str = "constant") -> float:
    """A finite number with ``|x| ≤ bound`` (comparison constants).

    Raises:
        SymphonyParseError: not a number, NaN/infinite, or out of bounds.
    """
    number = to_number(value, path, field)
    if not math.isfinite(number):
        fail(f"bad {what} {describe(value)}: expected a finite number", path, field)
    if abs(number) > bound:
        fail(f"{what} {describe(value)} out of bounds: expected |{what}| <= {bound:g}", path, field)
    return number


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
    """Validate an indicator function name against :data:`engine.functions.FUNCTIONS` (defsymphony aliases
    optional) and return its JSON name."""
    return function_spec(name, path, field, aliases=aliases).name


def function_spec(name: Any, path: str, field: str, *, aliases: bool = False) -> FunctionSpec:
    """The registry spec of function ``name`` (JSON name, or defsymphony alias when ``aliases``)."""
    if not isinstance(name, str) or not name:
        fail(f"missing or bad function name {describe(name)}", path, field)
    spec = resolve(name, aliases=aliases)
    if spec is None:
        fail(f"unknown function '{name}' (expected one of: {', '.join(FUNCTIONS)})", path, field)
    return spec


def function_params(fn: str, params: dict[str, Any], path: str, field: str) -> tuple[int | None,
                                                                                   tuple[tuple[str, int], ...]]:
    """Split a function's parameter map into ``(window, extra params)`` and validate it against its spec.

    * ``current-price``: no parameters; any window given (stale UI value) is ignored → ``(None, ())``.
    * the eight windowed core functions: ``window`` required, nothing else allowed → ``(N, ())``.
    * PPO / MACD and their signals: ``short-window`` and ``long-window`` (+ ``smooth-window`` for the signals)
      required, no defaults, no other key; a ``window`` (stale UI value, or the older ``*-window-days`` field)
      is ignored → ``(None, sorted params)``.
    * upper/lower Bollinger: ``window`` required; the band width k optional under ``num-std`` or its synonym
      ``std-dev`` (stored under ``num-std``); no other key → ``(N, ())`` or ``(N, (("num-std", k),))``.

    Every value must be an integer within its parameter's bounds (module docstring). Extra params are sorted by
    key, so equal references hash equal. Errors name the node path, the field and the function.
    """
    spec = FUNCTIONS[fn]
    if spec.kind == "price":
        return None, ()
    for key in params:
        if not isinstance(key, str):
            fail(f"bad parameter name {describe(key)} for '{fn}'", path, field)
    if spec.ignores_window:
        params = {k: v for k, v in params.items() if k != "window"}
    window: int | None = None
    extra: dict[str, int] = {}
    seen: dict[str, str] = {}
    unknown: list[str] = []
    for key, value in params.items():
        param = spec.param(key)
        if param is None:
            unknown.append(key)
            continue
        if param.key in seen:
            spellings = (param.key, *param.synonyms)
            both = ", ".join(sorted((seen[param.key], key), key=spellings.index))
            fail(f"band width given twice ({both}) for '{fn}'", path, field)
        seen[param.key] = key
        number = to_positive_int(value, path, field, what=key, minimum=param.minimum, maximum=param.maximum)
        if param.key == "window":
            window = number
        else:
            extra[param.key] = number
    if unknown:
        if spec.kind == "window":
            fail(f"unexpected parameter(s) {sorted(unknown)} for '{fn}' (only 'window')", path, field)
        if spec.kind == "multi":
            fail(f"unknown parameter(s) {sorted(unknown)} for '{fn}' "
                 f"(expected {', '.join(sorted(p.key for p in spec.params))})", path, field)
        width = spec.extra_params[0]
        fail(f"unknown parameter(s) {sorted(unknown)} for '{fn}' (expected 'window' and optionally one of "
             f"{', '.join((width.key, *width.synonyms))})", path, field)
    if spec.takes_window and window is None:
        fail(f"missing window for '{fn}'", path, field)
    missing = sorted(p.key for p in spec.extra_params if p.required and p.key not in extra)
    if missing:
        fail(f"missing parameter(s) {missing} for '{fn}' (expected {', '.join(sorted(p.key for p in spec.params))})",
             path, field)
    return window, tuple(sorted(extra.items()))


_SKIP_RE = re.compile(r'"(?:[^"\\]|\\.)*"?|;[^\n]*|\\.', re.S)
_OPENERS = np.zeros(128, dtype=np.int8)
for _ch in "([{":
    _OPENERS[ord(_ch)] = 1
for _ch in ")]}":
    _OPENERS[ord(_ch)] = -1


def _line_col(text: str, index: int) -> str:
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"line {line}, column {col}"


def check_text_limits(text: str) -> None:
    """Refuse text over the size, nesting or form-count limits before it is decoded (module docstring).

    O(len(text)) with a regular expression and numpy, so a hostile input is refused in milliseconds: strings,
    ``;`` comments and ``\\x`` character escapes are blanked out, then ``(``/``[``/``{`` count +1 and
    ``)``/``]``/``}`` −1.

    Raises:
        SymphonyLimitError: more than :data:`MAX_INPUT_BYTES` bytes, nesting deeper than :data:`MAX_NESTING`
            (names the line and column where the limit is crossed), or more than :data:`MAX_BRACKETS` forms.
    """
    size = len(text)  # characters; a character is 1-4 bytes of UTF-8
    if size <= MAX_INPUT_BYTES and size * 4 > MAX_INPUT_BYTES:
        size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_INPUT_BYTES:
        raise SymphonyLimitError(f"input too large: {size:,} bytes or more (limit {MAX_INPUT_BYTES:,} bytes)")
    blank = _SKIP_RE.sub(lambda m: " " * len(m.group()), text)
    codes = np.frombuffer(blank.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    steps = _OPENERS[np.minimum(codes, 127)].astype(np.int32)
    steps[codes > 127] = 0
    opens = int((steps > 0).sum())
    if opens > MAX_BRACKETS:
        raise SymphonyLimitError(f"too many nested forms: {opens:,} brackets (limit {MAX_BRACKETS:,})")
    if not opens:
        return
    depth = np.cumsum(steps)
    deepest = int(depth.max())
    if deepest > MAX_NESTING:
        where = int(np.argmax(depth > MAX_NESTING))
        raise SymphonyLimitError(f"nested too deeply: {deepest} levels of brackets (limit {MAX_NESTING}); the "
                                 f"limit is crossed at {_line_col(text, where)}")


def check_node_count(count: int) -> None:
    """Refuse a tree of more than :data:`MAX_NODES` nodes (raises :class:`SymphonyLimitError`)."""
    if count > MAX_NODES:
        raise SymphonyLimitError(f"too many nodes: {count:,} (limit {MAX_NODES:,})")


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
    * Negative or infinite weights, weights above :data:`MAX_WEIGHT`, or a sum of 0, are errors.
    """
    cleaned: list[float] = []
    for value, child_path in zip(raw, child_paths):
        if math.isnan(value):
            warn("weight is NaN; rule: the child is treated as weight 0 (it receives nothing)",
                 source, child_path, "weight")
            value = 0.0
        elif not math.isfinite(value) or value < 0:
            fail(f"bad weight {value!r}: expected a finite number >= 0", child_path, "weight")
        elif value > MAX_WEIGHT:
            fail(f"weight {value!r} out of bounds: expected a fraction from 0 to {MAX_WEIGHT:g} "
                 "(1 = 100 %)", child_path, "weight")
        cleaned.append(value)
    total = math.fsum(cleaned)
    if total <= 0:
        fail("specified weights sum to 0: nothing to allocate", path, "weight")
    if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE:
        warn(f"specified weights sum to {total:.6g}, not 1; normalised to sum 1", source, path, "weight")
    if abs(total - 1.0) > WEIGHT_SUM_EXACT_TOLERANCE:
        cleaned = [w / total for w in cleaned]
    return tuple(cleaned)
