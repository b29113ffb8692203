"""What raises an alert, read from a session's warehouse rows (no Dagster run): liquidated symphonies, kill-switch
trips (audit row, or blocked buys alone), rejected orders; and the one-line reason of a step error."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from pipelines.sensors import error_line, session_alerts
from warehouse import Warehouse
from warehouse.repos import audit

SESSION = dt.date(2024, 6, 21)


@pytest.fixture
def wh(warehouse_url):
    w = Warehouse(warehouse_url)
    w.create_schema()
    yield w
    w.dispose()


def _order(cid: str, account: str, ticker: str, side: str, status: str, reason: str, notional=None, qty=None):
    return {"client_order_id": cid, "account_id": account, "symphony_id": "net", "session_date": SESSION,
            "ticker": ticker, "side": side, "notional_usd": notional, "qty": qty, "status": status,
            "reason": reason}


def test_session_events_with_their_keys_and_texts(wh):
    wh.upsert("symphonies", pd.DataFrame([
        {"symphony_id": "sym-a", "account_id": "alpha", "name": "Alpha Trend", "source_format": "json"},
        {"symphony_id": "sym-b", "account_id": "beta", "name": None, "source_format": "json"}]), ["symphony_id"])
    wh.replace("symphony_runs", pd.DataFrame([
        {"account_id": "alpha", "symphony_id": "sym-a", "session_date": SESSION, "status": "failed",
         "reason": "no price on 2024-06-21 for ticker(s) ZZZZ (unknown or not traded)"},
        {"account_id": "beta", "symphony_id": "sym-b", "session_date": SESSION, "status": "ok", "reason": None}]),
        where={"session_date": SESSION})
    wh.replace("orders", pd.DataFrame([
        _order("alpha-1", "alpha", "SPY", "buy", "blocked", "kill switch: account lost 2.50% since the last close",
               notional=1234.5),
        _order("alpha-2", "alpha", "TLT", "sell", "filled", "net of 1 symphony intent(s)", qty=3.0),
        _order("beta-1", "beta", "QQQ", "buy", "rejected", "insufficient buying power", notional=50.0),
        _order("beta-2", "beta", "GLD", "buy", "blocked", "order value 9,000.00 USD above the limit 5,000.00 USD",
               notional=9000.0)]), where={"session_date": SESSION})
    audit.record(wh, action="kill_switch_tripped", actor="system", role="system", account_id="gamma",
                 target=SESSION.isoformat(), origin="dagster", detail="lost 4.00% since the last close (limit 3.00%)")
    audit.record(wh, action="kill_switch_tripped", actor="system", role="system", account_id="gamma",
                 target="2024-06-20", origin="dagster", detail="another day")
    got = {a.key: a for a in session_alerts(wh, SESSION, run_id="run-1")}
    assert sorted(got) == ["kill_switch_tripped:2024-06-21:alpha", "kill_switch_tripped:2024-06-21:gamma",
                           "order_rejected:beta-1", "symphony_liquidated:2024-06-21:sym-a"]
    liq = got["symphony_liquidated:2024-06-21:sym-a"]
    assert (liq.kind, liq.account_id, liq.symphony_id, liq.session_date, liq.run_id) == \
        ("symphony_liquidated", "alpha", "sym-a", SESSION, "run-1")
    assert liq.title == "Alpha Trend (sym-a) liquidated to cash on 2024-06-21"
    assert liq.text.endswith("Reason: no price on 2024-06-21 for ticker(s) ZZZZ (unknown or not traded)")
    alpha = got["kill_switch_tripped:2024-06-21:alpha"]       # no audit row: the blocked buy is the trace
    assert alpha.text == ("Account alpha: kill switch: account lost 2.50% since the last close. New buys are blocked "
                          "for the session; sells still go.\nBlocked buys: SPY 1,234.50 USD")
    gamma = got["kill_switch_tripped:2024-06-21:gamma"]       # tripped with no buy planned: the audit row
    assert gamma.text.startswith("Account gamma: lost 4.00% since the last close (limit 3.00%). ")
    assert gamma.text.endswith("Blocked buys: none planned")
    rej = got["order_rejected:beta-1"]
    assert rej.title == "Order rejected: buy QQQ for account beta on 2024-06-21"
    assert "Reason: insufficient buying power" in rej.text and "(50.00 USD)" in rej.text
    assert session_alerts(wh, dt.date(2024, 6, 24)) == []


class _Err:
    def __init__(self, cls_name, message, cause=None):
        self.cls_name, self.message, self.cause, self.context = cls_name, message, cause, None


def test_error_line_names_the_user_error_or_the_lock():
    wrapped = _Err("DagsterExecutionStepExecutionError", 'Error occurred while executing op "daily_bars":\n',
                   _Err("ConnectionError", "ConnectionError: feed down\n  File ...\n"))
    assert error_line(wrapped) == ("ConnectionError: feed down", False)
    locked = _Err("DagsterExecutionStepExecutionError", "Error occurred",
                  _Err("WarehouseLockedError", "warehouse.store.WarehouseLockedError: DuckDB file /x.duckdb is "
                                               "locked by another process: PID 7 (python)\n"))
    assert error_line(locked) == ("DuckDB file /x.duckdb is locked by another process: PID 7 (python)", True)
    assert error_line(_Err("DagsterAssetCheckFailedError", "dagster._core.errors.DagsterAssetCheckFailedError: "
                                                          "1 blocking asset check failed\n")) == \
        ("DagsterAssetCheckFailedError: 1 blocking asset check failed", False)
    assert error_line(None) == ("no error recorded", False)
