"""Adjusted closes for the Symphony detail page and the decision replay: the warehouse's ``daily_bars`` first.

The daily graph evaluates and trades on the bars it stored in the warehouse, so the detail page's "path taken"
and the replay read the same closes, through the one price reader (:class:`warehouse.prices.WarehouseCloseReader`,
the :class:`engine.prices.CloseReader` contract: sessions × tickers, USD, the one gap rule). Only when the
warehouse has no bar at all of a ticker the symphony reads (a symphony never traded yet) are the bundled closes
used instead (:class:`warehouse.prices.BundledCloseReader`), and the answer says so.

Market data belongs to no account: nothing here takes a scope (the symphony itself was read in scope).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from engine.prices import UnknownTickersError
from warehouse import Warehouse
from warehouse.prices import BundledCloseReader, WarehouseCloseReader

WAREHOUSE_SOURCE = "warehouse daily_bars (what the daily graph traded on)"


@dataclass(frozen=True)
class SymphonyCloses:
    """Closes for one symphony evaluation.

    Attributes:
        closes: wide adjusted closes (index ``session_date`` ``datetime64``, columns = tickers, USD).
        source: where they came from, in words (:data:`WAREHOUSE_SOURCE`, or the bundled fallback with the
            tickers the warehouse lacked).
    """

    closes: pd.DataFrame
    source: str


def symphony_closes(wh: Warehouse, tickers: list[str], end: Any) -> SymphonyCloses:
    """Adjusted closes of ``tickers`` up to ``end`` (inclusive): the warehouse's, else the bundle's.

    Raises:
        engine.prices.UnknownTickersError: a ticker neither the warehouse nor the bundle has.
        FileNotFoundError: the bundle is absent and the warehouse lacks a ticker.
    """
    try:
        return SymphonyCloses(WarehouseCloseReader(wh).closes(tickers, end=end), WAREHOUSE_SOURCE)
    except UnknownTickersError as missing:
        closes = BundledCloseReader().closes(tickers, end=end)
        return SymphonyCloses(closes, f"bundled closes (the warehouse has no bars of {', '.join(missing.tickers)} "
                                      "yet: this symphony has not been traded)")


__all__ = ["WAREHOUSE_SOURCE", "SymphonyCloses", "symphony_closes"]
