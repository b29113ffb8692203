"""The Notifications page through the router: an analyst sees their account's alerts with each channel's status,
never another account's or the platform-wide ones; an operator sees every alert and filters by kind and account."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from dashboards import auth
from dashboards.reads import notifications as notification_reads
from tests.dashboards.door import add_users, as_user, frames, open_page, texts
from warehouse import Warehouse
from warehouse.repos import notifications as notification_repo
from warehouse.scope import ALL_ACCOUNTS, AccountScope

PAGE = "app_pages/notifications.py"
T0 = dt.datetime(2024, 6, 21, 20, 0, tzinfo=dt.timezone.utc)


def _event(key: str, kind: str, title: str, account: str | None, symphony: str | None = None) -> dict:
    return {"event_key": key, "kind": kind, "account_id": account, "symphony_id": symphony,
            "session_date": dt.date(2024, 6, 21), "run_id": "run-42" if account is None else None, "title": title,
            "message": f"{title}: the full message"}


def seed_alerts(wh: Warehouse) -> None:
    """acct-a: a liquidation (webhook sent, e-mail failed after 3 tries); acct-b: a kill switch (both sent);
    platform-wide: a failed run (recorded only: no channel configured)."""
    liq = _event("symphony_liquidated:2024-06-21:sym-6040", "symphony_liquidated",
                 "Sixty Forty (sym-6040) liquidated to cash on 2024-06-21", "acct-a", "sym-6040")
    kill = _event("kill_switch_tripped:2024-06-21:acct-b", "kill_switch_tripped",
                  "Kill switch tripped for account acct-b on 2024-06-21", "acct-b")
    run = _event("run_failed:run-42", "run_failed", "daily_trading 2024-06-21 failed at daily_bars", None)
    for channel in ("webhook", "email"):
        assert notification_repo.claim(wh, liq, channel, at=T0)
        assert notification_repo.claim(wh, kill, channel, at=T0 + dt.timedelta(minutes=1))
        notification_repo.finish(wh, kill["event_key"], channel, status="sent", attempts=1)
    notification_repo.finish(wh, liq["event_key"], "webhook", status="sent", attempts=1)
    notification_repo.finish(wh, liq["event_key"], "email", status="failed", attempts=3,
                             last_error="SMTP 451 4.3.0 try again later")
    assert notification_repo.claim(wh, run, "none", status="recorded", at=T0 + dt.timedelta(minutes=2))
    assert not notification_repo.claim(wh, liq, "webhook")          # once per channel


@pytest.fixture
def alerts_db(seeded_duckdb: Path, use_duckdb, monkeypatch) -> Path:
    with Warehouse(f"duckdb:///{seeded_duckdb}") as wh:
        wh.create_schema()
        seed_alerts(wh)
        add_users(wh, ("alice", "root"))
    use_duckdb(seeded_duckdb)
    monkeypatch.setenv(auth.ENV_AUTH, "on")
    return seeded_duckdb


def _table(at) -> "list[dict]":
    [table] = frames(at, "webhook")
    return table.sort_values("created_at").to_dict("records")


def test_events_fold_channels_into_one_row(alerts_db):
    with Warehouse(f"duckdb:///{alerts_db}", read_only=True) as wh:
        rows = notification_reads.deliveries(wh, ALL_ACCOUNTS)
        mine = notification_reads.events(notification_reads.deliveries(wh, AccountScope.only("acct-a")))
    assert len(rows) == 5
    events = notification_reads.events(rows).set_index("event_key")
    liq = events.loc["symphony_liquidated:2024-06-21:sym-6040"]
    assert (liq["webhook"], liq["email"], liq["attempts"]) == ("sent", "failed", 4)
    assert liq["last_error"] == "email: SMTP 451 4.3.0 try again later"
    run = events.loc["run_failed:run-42"]
    assert (run["webhook"], run["email"], run["attempts"]) == ("not configured", "not configured", 0)
    assert list(mine["event_key"]) == ["symphony_liquidated:2024-06-21:sym-6040"]


def test_an_analyst_sees_only_their_accounts_alerts(alerts_db):
    at = as_user("alice", PAGE)
    assert not at.exception
    rows = _table(at)
    assert [(r["account_id"], r["kind"], r["symphony"], r["webhook"], r["email"], r["attempts"]) for r in rows] == [
        ("acct-a", "Symphony liquidated to cash", "Sixty Forty", "sent", "failed", 4)]
    shown = texts(at) + "\n".join(str(o) for w in at.selectbox for o in w.options)
    assert "acct-b" not in shown and "run-42" not in shown and "Kill switch tripped for" not in shown
    assert [m.value for m in at.main.metric] == ["1", "1", "0"]
    assert "Sixty Forty (sym-6040) liquidated to cash on 2024-06-21: the full message" in \
        "\n".join(str(c.value) for c in at.code)


def test_an_operator_sees_every_alert_and_filters_them(alerts_db):
    at = as_user("root", PAGE)
    assert not at.exception
    rows = _table(at)
    assert [(r["account_id"] if isinstance(r["account_id"], str) else None, r["kind"]) for r in rows] == [
        ("acct-a", "Symphony liquidated to cash"), ("acct-b", "Kill switch tripped"), (None, "Run failed")]
    assert rows[2]["webhook"] == rows[2]["email"] == "not configured"
    assert [m.value for m in at.main.metric] == ["3", "1", "1"]
    at.selectbox(key="notifications_kind").set_value("kill_switch_tripped").run()
    assert [r["title"] for r in _table(at)] == ["Kill switch tripped for account acct-b on 2024-06-21"]
    at.selectbox(key="notifications_kind").set_value(None)
    at.selectbox(key="notifications_account").set_value("acct-a").run()
    assert [r["account_id"] for r in _table(at)] == ["acct-a"]
    at.selectbox(key="notifications_account").set_value(None)
    at.selectbox(key="notifications_symphony").set_value("sym-qqq").run()
    assert not at.exception and not frames(at, "webhook")
    assert "No alert in view." in texts(at)
    open_page(at, "app_pages/orders.py")
    assert not at.exception


def test_a_warehouse_from_before_alerts_shows_no_alert(seeded_duckdb, use_duckdb, monkeypatch):
    """The dashboard opens the warehouse read-only: a file created before the table existed is read, not changed."""
    with Warehouse(f"duckdb:///{seeded_duckdb}") as wh:
        add_users(wh, ("root",))
        with wh.begin() as conn:
            conn.exec_driver_sql("DROP TABLE notifications")
    use_duckdb(seeded_duckdb)
    monkeypatch.setenv(auth.ENV_AUTH, "on")
    at = as_user("root", PAGE)
    assert not at.exception and "No alert in view." in texts(at)
    assert [m.value for m in at.main.metric] == ["0", "0", "0"]
