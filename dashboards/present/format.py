"""Text formatting shared by the pages: weights, holdings, dollars, percentages, Markdown-safe text.

Pure functions (no Streamlit). Units: weights and returns are fractions (0.6 = 60 %), money is USD.
"""
from __future__ import annotations

import math

import pandas as pd

from warehouse import CASH_TICKER

#: How the cash row of an allocation is shown.
CASH_LABEL = "Cash"


def md(text: object) -> str:
    """Text safe inside Markdown (``$`` would start LaTeX)."""
    return str(text).replace("$", "\\$")


def format_weight(weight: float) -> str:
    """A weight (fraction) as a percentage: 0.6 -> ``"60%"``, 0.445218 -> ``"44.5%"``, 1/3 -> ``"33.3%"``."""
    pct = round(float(weight) * 100.0, 1)
    return f"{pct:.0f}%" if pct == int(pct) else f"{pct:.1f}%"


def holdings_string(allocation: pd.DataFrame) -> str:
    """One symphony-session's target weights as text, largest first: ``"SPY 60%, TLT 40%"``.

    Args:
        allocation: rows with ``ticker`` and ``target_weight`` (fraction). The cash row (``$USD``) is shown as
            ``Cash``, last; weights that round to 0 % are left out.

    Returns:
        The text, or ``""`` when there is nothing to show.
    """
    if allocation is None or allocation.empty:
        return ""
    rows = allocation[["ticker", "target_weight"]].dropna()
    rows = rows[rows["target_weight"] >= 0.0005]
    rows = rows.assign(_cash=rows["ticker"] == CASH_TICKER)
    rows = rows.sort_values(["_cash", "target_weight", "ticker"], ascending=[True, False, True])
    return ", ".join(f"{CASH_LABEL if t == CASH_TICKER else t} {format_weight(w)}"
                     for t, w in zip(rows["ticker"], rows["target_weight"]))


def holdings_string_from_weights(weights: dict[str, float] | None) -> str:
    """:func:`holdings_string` of a ``{ticker: fraction}`` mapping (``$USD`` is cash); ``""`` when empty."""
    weights = weights or {}
    return holdings_string(pd.DataFrame({"ticker": list(weights), "target_weight": list(weights.values())}))


#: The minus sign of every negative figure (U+2212, as typeset money and percentages: ``−$0.99``, ``−1.20%``).
MINUS = "\u2212"
#: What a missing value is shown as (never ``None`` / ``nan``).
DASH = "—"


def _missing(value: object) -> bool:
    """True for ``None``, NaN, NaT and ``pd.NA``."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or other container is not "missing"
        return False


def _sign(value: float) -> str:
    """:data:`MINUS` for a value that rounds below zero, else ``""`` (so ``-0.001`` USD is ``$0.00``)."""
    return MINUS if value < 0 else ""


def format_usd(value: float | None, digits: int = 2) -> str:
    """``12345.6`` -> ``"$12,345.60"``, ``-0.99`` -> ``"−$0.99"`` (U+2212 before the dollar sign); ``None``/NaN ->
    ``"—"``. A value that rounds to zero has no sign."""
    if _missing(value):
        return DASH
    v = round(float(value), digits)
    return f"{_sign(v)}${abs(v):,.{digits}f}"


def signed_usd(value: float | None) -> str:
    """``50`` -> ``"+$50.00"``, ``-4850`` -> ``"−$4,850.00"``, ``0`` -> ``"+$0.00"``; ``None``/NaN -> ``"—"``."""
    if _missing(value):
        return DASH
    v = round(float(value), 2)
    return (MINUS if v < 0 else "+") + format_usd(abs(v))


def format_pct(value: float | None, digits: int = 2) -> str:
    """A fraction as a percentage: ``0.1235`` -> ``"12.35%"``, ``-0.012`` -> ``"−1.20%"``; ``None``/NaN -> ``"—"``."""
    if _missing(value):
        return DASH
    v = round(float(value) * 100.0, digits)
    return f"{_sign(v)}{abs(v):.{digits}f}%"


def signed_pct(value: float | None, digits: int = 2) -> str:
    """A fraction as a signed percentage (``0.02`` -> ``"+2.00%"``, ``-0.02`` -> ``"−2.00%"``); ``None``/NaN ->
    ``"—"``."""
    if _missing(value):
        return DASH
    v = round(float(value) * 100.0, digits)
    return f"{MINUS if v < 0 else '+'}{abs(v):.{digits}f}%"


def drawdown_fraction(value: float | None) -> float:
    """A drawdown as a **positive** fraction whatever convention it was stored in (``-0.0816`` and ``0.0816`` ->
    ``0.0816``; Composer shows max drawdown positive). ``None``/NaN -> NaN."""
    return math.nan if _missing(value) else abs(float(value))


def format_drawdown(value: float | None, digits: int = 2) -> str:
    """A drawdown as a positive percentage (``-0.0816`` -> ``"8.16%"``); ``None``/NaN -> ``"—"``."""
    return format_pct(drawdown_fraction(value), digits)


def format_number(value: float | None, digits: int = 2, *, signed: bool = False) -> str:
    """A plain number with thousands separators and :data:`MINUS`: ``-3.14159`` -> ``"−3.14"``, ``1234.5`` ->
    ``"1,234.50"`` (``signed``: ``"+1,234.50"``); ``None``/NaN -> ``"—"``."""
    if _missing(value):
        return DASH
    v = round(float(value), digits)
    sign = MINUS if v < 0 else ("+" if signed else "")
    return f"{sign}{abs(v):,.{digits}f}"


def format_qty(value: float | None) -> str:
    """A share quantity, up to 4 decimals without trailing zeros (``0.370826`` -> ``"0.3708"``, ``12`` -> ``"12"``);
    ``None``/NaN -> ``"—"``."""
    if _missing(value):
        return DASH
    text = f"{abs(float(value)):,.4f}".rstrip("0").rstrip(".")
    return (MINUS if round(float(value), 4) < 0 else "") + text


def format_date(value: object) -> str:
    """A date (or timestamp) as ``YYYY-MM-DD``; ``None``/NaT -> ``"—"``."""
    if _missing(value):
        return DASH
    return pd.Timestamp(value).date().isoformat()


def format_timestamp(value: object) -> str:
    """A timestamp to the minute, in UTC when it has a zone: ``"2026-11-20 23:25 UTC"``; ``None``/NaT -> ``"—"``."""
    if _missing(value):
        return DASH
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        return ts.tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")
    return ts.strftime("%Y-%m-%d %H:%M")


def format_text(value: object) -> str:
    """Any cell as text: ``None``/NaN/empty -> ``"—"``, else ``str(value)``."""
    return DASH if _missing(value) or str(value).strip() == "" else str(value)


def plain_reason(reason: object) -> str:
    """A stored failure reason without its Python class prefix (``"ValueError: no price on 2024-06-21 for ticker(s)
    ZZZQ"`` -> ``"no price on 2024-06-21 for ticker(s) ZZZQ"``); ``None``/NaN/empty -> ``"—"``."""
    import re

    text = format_text(reason)
    return re.sub(r"^[A-Z][A-Za-z]*(Error|Exception): ", "", text)


#: The formatters :func:`display_table` knows by name.
FORMATS = {"usd": format_usd, "signed_usd": signed_usd, "pct": format_pct, "signed_pct": signed_pct,
           "drawdown": format_drawdown, "weight": lambda v: DASH if _missing(v) else format_weight(v),
           "number": format_number, "ratio": format_number, "qty": format_qty, "date": format_date,
           "timestamp": format_timestamp, "text": format_text, "reason": plain_reason,
           "signed_qty": lambda v: DASH if _missing(v) else ("+" if round(float(v), 4) > 0 else "") + format_qty(v),
           "bp": lambda v: format_number(v, 1, signed=True)}


def display_table(frame: pd.DataFrame, formats: dict[str, str] | None = None) -> pd.DataFrame:
    """A copy of ``frame`` ready for ``st.dataframe``: no cell shows ``None`` or ``nan``.

    Args:
        frame: the rows.
        formats: column -> formatter name of :data:`FORMATS` (``"usd"``, ``"pct"``, ``"drawdown"``, ``"qty"``,
            ``"timestamp"``, …): those columns become text (:data:`MINUS` for negatives, :data:`DASH` for missing).

    Returns:
        The copy; every other non-numeric column (text, dates) that has a missing cell becomes text with
        :data:`DASH` there; numeric columns not named in ``formats`` are left numeric (name them when they can be
        missing).

    Raises:
        KeyError: a formatter name that is not in :data:`FORMATS`.
    """
    out = frame.copy()
    for column, kind in (formats or {}).items():
        if column in out.columns:
            fn = FORMATS[kind]
            out[column] = pd.Series([fn(v) for v in out[column]], index=out.index, dtype=object)
    for column in out.columns:
        dtype = out[column].dtype
        if column not in (formats or {}) and not pd.api.types.is_numeric_dtype(dtype) \
                and not pd.api.types.is_bool_dtype(dtype):  # text (object or pandas' str), dates, timestamps
            values = list(out[column])
            if any(_missing(v) for v in values):  # all text then, so a column of dates and "—" stays one type
                out[column] = pd.Series([format_text(v) for v in values], index=out.index, dtype=object)
    return out


def delta_style(delta_text: str | None) -> dict:
    """``st.metric`` keyword arguments for a delta written with :data:`MINUS` (Streamlit only reads an ASCII
    ``-`` as "down"): ``{"delta_arrow": "down", "delta_color": "red"}`` for a negative delta, ``up``/``green`` for
    a positive one, ``off``/``gray`` for zero or none."""
    text = (delta_text or "").strip()
    if text.startswith((MINUS, "-")):
        return {"delta_arrow": "down", "delta_color": "red"}
    if not text or text.lstrip("+$").replace("0", "").replace(".", "").replace("%", "") == "":
        return {"delta_arrow": "off", "delta_color": "gray"}
    return {"delta_arrow": "up", "delta_color": "green"}


__all__ = ["CASH_LABEL", "MINUS", "DASH", "md", "format_weight", "holdings_string", "holdings_string_from_weights",
           "format_usd", "signed_usd", "format_pct", "signed_pct", "drawdown_fraction", "format_drawdown",
           "format_number", "format_qty", "format_date", "format_timestamp", "format_text", "plain_reason", "FORMATS",
           "display_table", "delta_style"]
