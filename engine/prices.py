"""Price-frame preparation shared by evaluation, backtests and the daily graph."""
from __future__ import annotations

import pandas as pd


def fill_interior_gaps(closes: pd.DataFrame) -> pd.DataFrame:
    """Forward-fill a ticker's missing sessions *inside* its history; never before its first or after its last bar.

    Args:
        closes: wide adjusted closes, index = sessions (ascending), columns = tickers (USD).

    Returns:
        The same shape, float64: a session a ticker lacks between two of its bars carries the previous close
        (e.g. 2011-02-17, absent from some sources); leading and trailing NaN stay NaN, so a ticker that has not
        started or has stopped trading is never given invented prices.
    """
    inside = closes.ffill().notna() & closes.bfill().notna()
    return closes.ffill().where(inside).astype("float64")
