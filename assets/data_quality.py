"""Data quality as Dagster asset checks (the logic is :mod:`engine.data_quality`; these only read and report).

* ``daily_bars_quality`` (on ``daily_bars``, per session, WARN, not blocking): the stored adjusted-close history
  of every ticker the tradable symphonies need, up to the session — series that end before the session (stale),
  sessions missing inside a series (gaps, XNYS calendar), non-positive values, and daily moves beyond
  60 % × leverage (jumps that look like unadjusted splits). Fails (WARN) on any finding; the metadata gives the
  counts per kind and the findings themselves, so nothing is silent. The blocking check on the session's bars
  stays ``daily_bars_complete`` (:mod:`assets.daily`).
"""

import datetime as dt

import dagster as dg

from assets.daily import daily_bars, needed_tickers, tradable_symphonies
from engine.data_quality import check_closes
from resources import WarehouseResource
from warehouse.prices import WarehouseCloseReader


@dg.asset_check(asset=daily_bars, blocking=False,
                description="Stale series, interior gaps, non-positive closes and split-like jumps in the stored "
                            "history of the tickers the symphonies need (engine.data_quality).")
def daily_bars_quality(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """WARN with every finding of :func:`engine.data_quality.check_closes` on the stored closes up to the session."""
    tag = context.run.tags.get("dagster/partition")
    session = dt.date.fromisoformat(tag) if tag else None
    wh = warehouse.open()
    tickers = needed_tickers(tradable_symphonies(wh))
    reader = WarehouseCloseReader(wh)
    long = reader.long_closes(tickers, end=session)
    report = check_closes(long, last_session=session or reader.last_session())
    meta = report.metadata()
    meta["session"] = str(session)
    if not report.clean:
        context.log.warning("data quality: " + ", ".join(f"{n} {k}" for k, n in report.counts().items() if n))
    return dg.AssetCheckResult(passed=report.clean, severity=dg.AssetCheckSeverity.WARN, metadata=meta)


DATA_QUALITY_CHECKS = [daily_bars_quality]

__all__ = ["DATA_QUALITY_CHECKS", "daily_bars_quality"]
