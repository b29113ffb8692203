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


def format_usd(value: float | None) -> str:
    """``12345.6`` -> ``"$12,345.60"``; ``None``/NaN -> ``"—"``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def signed_usd(value: float) -> str:
    """``50`` -> ``"+$50.00"``, ``-4850`` -> ``"-$4,850.00"``."""
    return ("+" if value >= 0 else "-") + format_usd(abs(value))


def signed_pct(value: float | None) -> str:
    """A fraction as a signed percentage with two decimals (``0.02`` -> ``"+2.00%"``); ``None``/NaN -> ``"—"``."""
    return "—" if value is None or pd.isna(value) else f"{value:+.2%}"


__all__ = ["CASH_LABEL", "md", "format_weight", "holdings_string", "holdings_string_from_weights", "format_usd",
           "signed_usd", "signed_pct"]
