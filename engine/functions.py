"""The Composer function registry: one :class:`FunctionSpec` per indicator function (composer_format.md §3–§4).

Everything the project knows about one function lives in its spec — the JSON name, the defsymphony spelling, the
parameters (keys, synonyms, defaults, bounds), the unit of its values and of the thresholds compared with it
(percent or not), the warm-up (closes needed before the first value), the compute callable of
:mod:`engine.indicators`, and the short label and noun used in descriptions. The parsers
(:mod:`engine.parse_common`, :mod:`engine.parse_json`, :mod:`engine.parse_defsymphony`), the exporter
(:mod:`engine.export`), the indicator dispatch (:func:`engine.indicators.compute_indicator`, used by the evaluator)
and the descriptions (:mod:`engine.describe`) all read :data:`FUNCTIONS`; no other table of function facts exists.

Kinds of functions (composer_format.md §4):

* ``price`` — ``current-price``: no parameter (a stale ``window`` from the editor is ignored), 1 close.
* ``window`` — the eight core windowed functions: ``window`` N only.
* ``multi`` — PPO / MACD and their signal lines: ``short-window`` and ``long-window`` (+ ``smooth-window`` for the
  signals), all required, no defaults; a stale ``window`` is ignored. Keys VERIFIED for PPO in real defsymphony
  exports, INFERRED for MACD.
* ``bollinger`` — upper/lower bands: ``window`` N and an optional width k under ``num-std`` (synonym ``std-dev``;
  Composer's key is OPEN, composer_format.md §8 item 11), default 2.

Every parameter value is an integer within ``[minimum, maximum]`` of its :class:`ParamSpec`; the bounds are the
parse-time bounds documented in :mod:`engine.parse_common` and ``docs/semantics.md`` (windows ≤
:data:`MAX_WINDOW`, band width ≤ :data:`MAX_BAND_WIDTH`).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import pandas as pd

from engine import indicators as ind
from engine.model import params_key  # re-exported: the canonical params identity lives with IndicatorRef

__all__ = [
    "ALIASES",
    "FUNCTIONS",
    "FUNCTION_NAMES",
    "MAX_BAND_WIDTH",
    "MAX_WINDOW",
    "FunctionSpec",
    "ParamSpec",
    "canonical_params",
    "compute",
    "params_key",
    "resolve",
]

#: Largest window (trading days) of any function parameter or of ``wt-inverse-vol``. The corpus's largest is 600
#: (``../shared/symphonies``); 10,000 sessions (~40 years) is longer than any ticker's history (SPY: ~8,300
#: sessions since 1993), so a larger window could never warm up. It also keeps every window far inside the int32
#: ``indicator_values.window`` column.
MAX_WINDOW = 10_000

#: Largest Bollinger band width k, in standard deviations (integers; k = 2 is the standard band).
MAX_BAND_WIDTH = 20

Kind = Literal["price", "window", "multi", "bollinger"]
Unit = Literal["dollars", "percent", "RSI points"]


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a function: its Composer key, accepted synonyms, default and integer bounds (inclusive)."""

    key: str
    minimum: int = 1
    maximum: int = MAX_WINDOW
    required: bool = True
    default: int | None = None
    synonyms: tuple[str, ...] = ()

    @property
    def kwarg(self) -> str:
        """The keyword argument of the compute callable (``short-window`` → ``short_window``)."""
        return self.key.replace("-", "_")


@dataclass(frozen=True)
class FunctionSpec:
    """Everything about one Composer indicator function (composer_format.md §4).

    Attributes:
        name: Composer's JSON name (``relative-strength-index``).
        alias: defsymphony spelling (``rsi``); equal to ``name`` where Composer writes the JSON name (§3).
        kind: ``price`` | ``window`` | ``multi`` | ``bollinger`` (module docstring).
        params: the parameters in Composer's writing order (``window`` first, then short/long/smooth, then width).
        unit: unit of the values and of the constants compared with them: ``dollars``, ``percent`` (``-6`` = −6 %)
            or ``RSI points`` (0–100).
        percent: True when thresholds are in percent (``unit == "percent"``); descriptions add ``%``.
        warmup_rule: the warm-up in words (``N``, ``N+1``, ``max(S,L)``, ``max(S,L)+M-1``, ``1``).
        compute: the function of :mod:`engine.indicators` (``closes`` wide frame → frame of the same shape).
        label: short label for tree boxes (``RSI``).
        noun: noun for sentences (``RSI``, ``moving average``).
    """

    name: str
    alias: str
    kind: Kind
    params: tuple[ParamSpec, ...]
    unit: Unit
    percent: bool
    warmup_rule: str
    compute: Callable[..., pd.DataFrame] = field(repr=False)
    label: str
    noun: str

    # -- parameters -------------------------------------------------------------------------------------------
    @property
    def takes_window(self) -> bool:
        """True when the function reads a ``window`` (kept in :attr:`engine.model.IndicatorRef.window`)."""
        return any(p.key == "window" for p in self.params)

    @property
    def ignores_window(self) -> bool:
        """True when a ``window`` in the source is a stale editor value to ignore (``price`` and ``multi``)."""
        return not self.takes_window

    @property
    def extra_params(self) -> tuple[ParamSpec, ...]:
        """The parameters other than ``window`` (kept in :attr:`engine.model.IndicatorRef.params`)."""
        return tuple(p for p in self.params if p.key != "window")

    def param(self, key: str) -> ParamSpec | None:
        """The parameter called ``key`` or one of its synonyms, else None."""
        for p in self.params:
            if key == p.key or key in p.synonyms:
                return p
        return None

    @property
    def window_spec(self) -> ParamSpec | None:
        return self.param("window") if self.takes_window else None

    # -- warm-up ----------------------------------------------------------------------------------------------
    def warmup(self, window: int | None, params: tuple[tuple[str, int], ...] = ()) -> int:
        """Closes needed before the first value (composer_format.md §4; docs/semantics.md).

        ``current-price`` 1; price-level functions, ``max-drawdown`` and the Bollinger bands N; return-based
        functions N+1; PPO/MACD max(S, L); their signals max(S, L) + M − 1.

        Raises:
            ValueError: a parameter the rule needs is missing.
        """
        given = dict(params)
        try:
            if self.warmup_rule == "1":
                return 1
            if self.warmup_rule == "N":
                return int(window)  # type: ignore[arg-type]
            if self.warmup_rule == "N+1":
                return int(window) + 1  # type: ignore[arg-type]
            longest = max(int(given["short-window"]), int(given["long-window"]))
            if self.warmup_rule == "max(S,L)":
                return longest
            return longest + int(given["smooth-window"]) - 1
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{self.name}: cannot compute the warm-up without its parameters "
                             f"(window={window!r}, params={given!r})") from exc

    # -- dispatch ---------------------------------------------------------------------------------------------
    def keyword_arguments(self, window: int | None, params: object) -> dict[str, object]:
        """Map ``window``/``params`` onto the keyword arguments of :attr:`compute` (ValueError otherwise).

        ``params`` are ``(key, value)`` pairs in any order. ``price``: nothing (a window is an error). ``window``:
        ``window`` only. ``multi``: no window; exactly the required keys, no defaults. ``bollinger``: ``window``
        plus at most one spelling of ``num-std`` (default 2).
        """
        fn = self.name
        given = _params_dict(fn, params)
        if self.kind == "price":
            if window is not None:
                raise ValueError(f"current-price: takes no window, got {window!r}")
            if given:
                raise ValueError(f"{fn}: takes no extra parameters, got {given!r}")
            return {}
        if self.kind == "window":
            if given:
                raise ValueError(f"{fn}: takes no extra parameters, got {given!r}")
            return {"window": window}
        keys = [p.key for p in self.extra_params]
        if self.kind == "multi":
            if window is not None:
                raise ValueError(f"{fn}: takes no window (got {window!r}); give {', '.join(sorted(keys))} in "
                                 "params")
            unknown = sorted(set(given) - set(keys))
            if unknown:
                raise ValueError(f"{fn}: unknown parameter(s) {unknown} (accepted: {', '.join(sorted(keys))})")
            missing = sorted(k for k in keys if k not in given)
            if missing:
                raise ValueError(f"{fn}: missing parameter(s) {missing} (required: {', '.join(sorted(keys))}; "
                                 "there are no defaults)")
            return {p.kwarg: given[p.key] for p in self.extra_params}
        # bollinger
        width = self.extra_params[0]
        spellings = (width.key, *width.synonyms)
        unknown = sorted(set(given) - set(spellings))
        if unknown:
            raise ValueError(f"{fn}: unknown parameter(s) {unknown} (accepted: 'window' and optionally one of "
                             f"{', '.join(spellings)})")
        present = [k for k in spellings if k in given]
        if len(present) > 1:
            raise ValueError(f"{fn}: band width given twice ({', '.join(present)})")
        kwargs: dict[str, object] = {"window": window}
        if present:
            kwargs[width.kwarg] = given[present[0]]
        return kwargs

    def __call__(self, closes: pd.DataFrame, window: int | None = None,
                 params: tuple[tuple[str, int], ...] = ()) -> pd.DataFrame:
        """Compute the function over ``closes`` (see :func:`compute`)."""
        return self.compute(closes, **self.keyword_arguments(window, params))


def _params_dict(fn: str, params: object) -> dict[str, object]:
    """``params`` (pairs ``(key, value)``) as a dict; ValueError on a malformed tuple or a repeated key."""
    try:
        pairs = [(key, value) for key, value in params]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"{fn}: params must be (key, value) pairs, got {params!r}") from None
    out: dict[str, object] = {}
    for key, value in pairs:
        if not isinstance(key, str):
            raise ValueError(f"{fn}: parameter names must be strings, got {key!r}")
        if key in out:
            raise ValueError(f"{fn}: parameter {key!r} given twice")
        out[key] = value
    return out


_WINDOW = ParamSpec("window")
_WINDOW2 = ParamSpec("window", minimum=2)  # ddof = 1 needs two values; TA-Lib's RSI needs N ≥ 2
_SHORT, _LONG, _SMOOTH = ParamSpec("short-window"), ParamSpec("long-window"), ParamSpec("smooth-window")
_WIDTH = ParamSpec("num-std", maximum=MAX_BAND_WIDTH, required=False, default=ind.BOLLINGER_DEFAULT_WIDTH,
                   synonyms=("std-dev",))


def _spec(name: str, alias: str | None, kind: Kind, params: tuple[ParamSpec, ...], unit: Unit, warmup: str,
          compute_fn: Callable[..., pd.DataFrame], label: str, noun: str) -> FunctionSpec:
    return FunctionSpec(name=name, alias=alias or name, kind=kind, params=params, unit=unit,
                        percent=unit == "percent", warmup_rule=warmup, compute=compute_fn, label=label, noun=noun)


_SPECS: tuple[FunctionSpec, ...] = (
    _spec("current-price", None, "price", (), "dollars", "1", ind.current_price, "price", "price"),
    _spec("cumulative-return", None, "window", (_WINDOW,), "percent", "N+1", ind.cumulative_return,
          "cumulative return", "cumulative return"),
    _spec("moving-average-price", None, "window", (_WINDOW,), "dollars", "N", ind.moving_average_price,
          "SMA", "moving average"),
    _spec("exponential-moving-average-price", None, "window", (_WINDOW,), "dollars", "N",
          ind.exponential_moving_average_price, "EMA", "exponential moving average"),
    _spec("moving-average-return", None, "window", (_WINDOW,), "percent", "N+1", ind.moving_average_return,
          "MA return", "average daily return"),
    _spec("relative-strength-index", "rsi", "window", (_WINDOW2,), "RSI points", "N+1",
          ind.relative_strength_index, "RSI", "RSI"),
    _spec("standard-deviation-price", "stdev-price", "window", (_WINDOW2,), "dollars", "N",
          ind.standard_deviation_price, "stdev price", "price standard deviation"),
    _spec("standard-deviation-return", "stdev-return", "window", (_WINDOW2,), "percent", "N+1",
          ind.standard_deviation_return, "stdev return", "volatility"),
    _spec("max-drawdown", None, "window", (_WINDOW,), "percent", "N", ind.max_drawdown, "max drawdown",
          "max drawdown"),
    _spec("percentage-price-oscillator", None, "multi", (_SHORT, _LONG), "percent", "max(S,L)",
          ind.percentage_price_oscillator, "PPO", "PPO"),
    _spec("percentage-price-oscillator-signal", None, "multi", (_SHORT, _LONG, _SMOOTH), "percent",
          "max(S,L)+M-1", ind.percentage_price_oscillator_signal, "PPO signal", "PPO signal"),
    _spec("moving-average-convergence-divergence", None, "multi", (_SHORT, _LONG), "dollars", "max(S,L)",
          ind.moving_average_convergence_divergence, "MACD", "MACD"),
    _spec("moving-average-convergence-divergence-signal", None, "multi", (_SHORT, _LONG, _SMOOTH), "dollars",
          "max(S,L)+M-1", ind.moving_average_convergence_divergence_signal, "MACD signal", "MACD signal"),
    _spec("upper-bollinger", None, "bollinger", (_WINDOW2, _WIDTH), "dollars", "N", ind.upper_bollinger,
          "upper Bollinger band", "upper Bollinger band"),
    _spec("lower-bollinger", None, "bollinger", (_WINDOW2, _WIDTH), "dollars", "N", ind.lower_bollinger,
          "lower Bollinger band", "lower Bollinger band"),
)

#: The fifteen functions by JSON name, in the order of composer_format.md §4 (read-only).
FUNCTIONS: Mapping[str, FunctionSpec] = MappingProxyType({s.name: s for s in _SPECS})

#: The JSON names, in registry order.
FUNCTION_NAMES: tuple[str, ...] = tuple(FUNCTIONS)

#: defsymphony spellings that differ from the JSON name → the spec (composer_format.md §3).
ALIASES: Mapping[str, FunctionSpec] = MappingProxyType({s.alias: s for s in _SPECS if s.alias != s.name})


def resolve(name: str, *, aliases: bool = False) -> FunctionSpec | None:
    """The spec of JSON name ``name`` (or of its defsymphony alias when ``aliases``), None when unknown."""
    if not isinstance(name, str):
        return None
    spec = FUNCTIONS.get(name)
    if spec is None and aliases:
        spec = ALIASES.get(name)
    return spec


def canonical_params(params: object) -> tuple[tuple[str, int], ...]:
    """``(key, value)`` pairs sorted by key: the form :attr:`engine.model.IndicatorRef.params` keeps."""
    return tuple(sorted((str(k), v) for k, v in dict(params).items()))  # type: ignore[call-overload]


def compute(fn: str, closes: pd.DataFrame, window: int | None,
            params: tuple[tuple[str, int], ...] = ()) -> pd.DataFrame:
    """Compute function ``fn`` (JSON name) over ``closes`` — the body of :func:`engine.indicators.compute_indicator`.

    Raises:
        ValueError: unknown ``fn``, invalid window or params (the message names the function).
    """
    spec = FUNCTIONS.get(fn) if isinstance(fn, str) else None
    if spec is None:
        raise ValueError(f"{fn!r}: unknown indicator function (known: {', '.join(FUNCTIONS)})")
    return spec(closes, window, params)
