"""Reads of the Orders & positions page: one session's netted orders, fills, intents, positions and runs.

Every read takes the signed-in user's :class:`~warehouse.AccountScope` (required; package docstring).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from warehouse import AccountScope, Warehouse
from warehouse.repos import tenant
from warehouse.scope import require_scope


def activity_sessions(wh: Warehouse, scope: AccountScope) -> list[dt.date]:
    """Sessions with orders or symphony runs in scope, newest first."""
    require_scope(scope)
    dates: set[dt.date] = set()
    for table in ("orders", "symphony_runs"):
        dates |= set(tenant.read(wh, table, scope, columns=["session_date"])["session_date"])
    return sorted(dates, reverse=True)


def orders_on(wh: Warehouse, scope: AccountScope, session_date: Any) -> pd.DataFrame:
    """The netted account orders of one session (``orders``): ``account_id, client_order_id, ticker, side,
    notional_usd, qty, status, filled_qty, filled_avg_price, ref_price`` (USD), ``reason, submitted_at``."""
    return tenant.read(wh, "orders", scope, where={"session_date": session_date},
                       columns=["account_id", "client_order_id", "ticker", "side", "notional_usd", "qty", "status",
                                "filled_qty", "filled_avg_price", "ref_price", "reason", "submitted_at"],
                       order_by=["account_id", "ticker", "side"])


def fills_on(wh: Warehouse, scope: AccountScope, session_date: Any) -> pd.DataFrame:
    """Executions of one session (``fills``): ``account_id, client_order_id, ticker, side, qty, price,
    notional_usd`` (USD), ``filled_at``."""
    return tenant.read(wh, "fills", scope, where={"session_date": session_date},
                       columns=["account_id", "client_order_id", "ticker", "side", "qty", "price", "notional_usd",
                                "filled_at"], order_by=["account_id", "ticker", "filled_at"])


def intents_on(wh: Warehouse, scope: AccountScope, session_date: Any) -> pd.DataFrame:
    """Each symphony's wanted change per ticker of one session (``order_intents``): ``account_id, symphony_id,
    ticker, delta_qty`` (shares), ``ref_price`` (USD), ``liquidate, disposition, client_order_id``."""
    return tenant.read(wh, "order_intents", scope, where={"session_date": session_date},
                       columns=["account_id", "symphony_id", "ticker", "delta_qty", "ref_price", "liquidate",
                                "disposition", "client_order_id"], order_by=["account_id", "symphony_id", "ticker"])


def positions_on(wh: Warehouse, scope: AccountScope, session_date: Any) -> pd.DataFrame:
    """End-of-session holdings of every symphony in scope (cash row ``$USD``): ``account_id, symphony_id,
    ticker, qty`` (shares; USD for cash), ``price, market_value_usd`` (USD)."""
    return tenant.read(wh, "positions", scope, where={"session_date": session_date},
                       columns=["account_id", "symphony_id", "ticker", "qty", "price", "market_value_usd"],
                       order_by=["account_id", "symphony_id", "ticker"])


def runs_on(wh: Warehouse, scope: AccountScope, session_date: Any) -> pd.DataFrame:
    """Evaluation outcomes of one session (``symphony_runs``): ``account_id, symphony_id, status``
    (``ok|failed|skipped``), ``reason, evaluated_at``."""
    return tenant.read(wh, "symphony_runs", scope, where={"session_date": session_date},
                       columns=["account_id", "symphony_id", "status", "reason", "evaluated_at"],
                       order_by=["account_id", "symphony_id"])


def session_activity(wh: Warehouse, scope: AccountScope, session_date: Any) -> dict[str, pd.DataFrame]:
    """The five frames above for one session: keys ``orders, fills, intents, positions, runs``."""
    return {"orders": orders_on(wh, scope, session_date), "fills": fills_on(wh, scope, session_date),
            "intents": intents_on(wh, scope, session_date), "positions": positions_on(wh, scope, session_date),
            "runs": runs_on(wh, scope, session_date)}


__all__ = ["activity_sessions", "orders_on", "fills_on", "intents_on", "positions_on", "runs_on",
           "session_activity"]
