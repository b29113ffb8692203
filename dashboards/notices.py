"""What a page shows instead of data when the warehouse cannot be read yet, and the next steps it suggests.

Streamlit code shared by every page: :func:`warehouse_ready` draws the reason (no file, no tables, busy,
unreachable) and returns ``False``; :func:`busy` is the message for a read that met Dagster's write lock.
"""
from __future__ import annotations

import sqlalchemy as sa
import streamlit as st

from dashboards import cache
from dashboards.context import PageContext
from dashboards.present.format import md
from dashboards.reads import store
from warehouse import WarehouseLockedError

NEXT_STEPS_SEED = "run `make demo` (a demo account trading 20 bundled sessions) or `oragami seed FILE`"
NEXT_STEPS_RUN = ("run `oragami run-daily --session YYYY-MM-DD`, or materialise the `daily_trading` job in the "
                  "Dagster UI (`make dagster`)")
NEXT_STEPS_BACKTEST = "run the `backtest_all` job in Dagster or `make demo`"
BUSY = ("The warehouse is busy: another process (Dagster) is writing to it. Wait a moment and press "
        "**Refresh data**.")


def busy() -> None:
    """Draw the "warehouse busy" warning."""
    st.warning(BUSY, icon=":material/hourglass_top:")


def warehouse_ready(ctx: PageContext) -> bool:
    """Whether the warehouse of ``ctx`` can be read; otherwise draw why not (and what to do) and return False."""
    where = store.duckdb_file(ctx.url) or store.safe_url(ctx.url)
    try:
        state = cache.warehouse_state(ctx.url)
    except WarehouseLockedError:
        busy()
        return False
    except sa.exc.OperationalError as exc:  # e.g. PostgreSQL not reachable
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        st.error(f"Cannot read the warehouse at `{where}`: {md(reason)}", icon=":material/error:")
        return False
    if state == "missing":
        st.info(f"No warehouse at `{where}` yet — {NEXT_STEPS_SEED}.", icon=":material/info:")
        return False
    if state == "no_schema":
        st.info(f"The warehouse at `{where}` has no tables yet — {NEXT_STEPS_SEED}.", icon=":material/info:")
        return False
    return True


__all__ = ["NEXT_STEPS_SEED", "NEXT_STEPS_RUN", "NEXT_STEPS_BACKTEST", "BUSY", "busy", "warehouse_ready"]
