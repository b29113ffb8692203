"""Alerts end to end: the daily_trading job run as the schedule launches it (the code location's job, a partition,
a persistent instance), the alert sensors evaluated as the daemon does (``build_sensor_context`` with the stored
cursor, ``evaluate_tick``), delivered to a local webhook receiver and a local SMTP server on 127.0.0.1.

Shown: a failed run, a symphony liquidated to cash and a kill switch trip each reach the webhook once and SMTP
once — also when the sensor is evaluated again from the same cursor (the daemon re-running a tick) and again from
the new one; a failing channel is retried, then recorded failed, while the other channel delivers.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from orchestration.cli import seed_symphonies
from orchestration.definitions import build_definitions
from pipelines.sensors import run_failure_alerts, trading_alerts
from resources import BundledMarketData, SimulatedBroker
from resources.alerts import EVENT_HEADER, AlertsResource
from resources.warehouse import WarehouseResource
from tests.fakes.alert_receivers import SmtpReceiver, WebhookReceiver
from warehouse import Warehouse
from warehouse.repos import audit, notifications as notification_repo
from warehouse.scope import ALL_ACCOUNTS, AccountScope

D1, D2, D3 = "2024-06-20", "2024-06-21", "2024-06-24"   # SPY fell 0.16 % on 2024-06-21


class NoTltBroker(SimulatedBroker):
    """The simulated broker without a price for TLT: it rejects TLT orders ("no price for TLT")."""

    def for_account(self, account_id, warehouse, prices, session):
        return super().for_account(account_id, warehouse, {t: p for t, p in prices.items() if t != "TLT"}, session)


class DownMarketData(BundledMarketData):
    """The bar feed is down: every read fails (the 15:50 run's first step fails)."""

    def bars(self, tickers, start, end):
        raise ConnectionError("market data feed unreachable (HTTP 503 from the vendor)")


def write(tmp_path: Path, name: str, body: str) -> Path:
    p = tmp_path / f"{name}.clj"
    p.write_text(f'(defsymphony "{name}" {{:asset-class "EQUITIES", :rebalance-frequency :daily}} {body})')
    return p


def set_account(wh: Warehouse, account_id: str, **settings) -> None:
    acct = wh.read("accounts", where={"account_id": account_id}).iloc[0].to_dict()
    acct.update(settings)
    wh.upsert("accounts", pd.DataFrame([acct]), ["account_id"])


@pytest.fixture
def receivers(monkeypatch):
    with WebhookReceiver() as hook, SmtpReceiver() as smtp:
        monkeypatch.setenv("ORAGAMI_ALERT_WEBHOOK_URL", hook.url)
        monkeypatch.setenv("ORAGAMI_ALERT_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("ORAGAMI_ALERT_SMTP_PORT", str(smtp.port))
        monkeypatch.setenv("ORAGAMI_ALERT_SMTP_SECURITY", "none")
        monkeypatch.setenv("ORAGAMI_ALERT_SMTP_FROM", "oragami@example.test")
        monkeypatch.setenv("ORAGAMI_ALERT_SMTP_TO", "ops@example.test")
        yield hook, smtp


class World:
    """A warehouse, a persistent Dagster instance and the code location's definitions on it."""

    def __init__(self, tmp_path: Path) -> None:
        self.url = f"duckdb:///{tmp_path / 'w.duckdb'}"
        self.wh = Warehouse(self.url)
        self.wh.create_schema()
        (tmp_path / "dagster_home").mkdir()
        self.instance = dg.DagsterInstance.local_temp(str(tmp_path / "dagster_home"))
        self.cursors: dict[str, str | None] = {}
        # fast retries in the test (the real default waits 1 s, 2 s, ...)
        self.resources = {"alerts": AlertsResource(backoff_s=0.0, timeout_s=5.0),
                          "warehouse": WarehouseResource(url=self.url)}
        for sensor in (run_failure_alerts, trading_alerts):
            self.cursors[sensor.name] = self.tick(sensor)      # the daemon's first tick only sets the cursor

    def run(self, session: str, market_data=None, broker=None):
        """The daily_trading job for ``session``, as the schedule's run request launches it (optionally with
        another market data or broker resource)."""
        defs = build_definitions(warehouse_url=self.url)
        swapped = {k: v for k, v in (("market_data", market_data), ("broker", broker)) if v is not None}
        if swapped:
            defs = dg.Definitions(assets=defs.assets, asset_checks=defs.asset_checks, jobs=defs.jobs,
                                  resources={**defs.resources, **swapped})
        job = defs.resolve_job_def("daily_trading")
        return job.execute_in_process(partition_key=session, instance=self.instance, raise_on_error=False,
                                      tags={"dagster/schedule_name": "daily_trading_schedule"})

    def tick(self, sensor, cursor: str | None = None) -> str | None:
        """One sensor tick from ``cursor``; returns the new cursor."""
        with dg.build_sensor_context(instance=self.instance, cursor=cursor, resources=self.resources) as ctx:
            return sensor.evaluate_tick(ctx).cursor

    def ticks(self, sensor) -> None:
        """A tick from the stored cursor, the same tick again (as if its cursor was lost), and the next one."""
        before = self.cursors[sensor.name]
        after = self.tick(sensor, before)
        assert self.tick(sensor, before) == after
        self.cursors[sensor.name] = self.tick(sensor, after)

    def rows(self) -> pd.DataFrame:
        return notification_repo.read(self.wh, ALL_ACCOUNTS)


def _kinds(rows: pd.DataFrame) -> list[tuple[str, str, str]]:
    return sorted(zip(rows["kind"], rows["channel"], rows["status"]))


@pytest.mark.slow
def test_failed_run_liquidation_and_kill_switch_each_reach_webhook_and_smtp_once(tmp_path, receivers):
    hook, smtp = receivers
    w = World(tmp_path)
    seed_symphonies(w.wh, [write(tmp_path, "spy-tlt", '(weight-equal [(asset "SPY") (asset "TLT")])')], "acct-kill")
    seed_symphonies(w.wh, [write(tmp_path, "doomed", '(weight-equal [(if (> (rsi "TLT" {:window 10}) 0) '
                                                      '[(asset "TLT")] [(asset "SPY")])])')], "acct-liq")

    # a normal day: nothing to alert
    assert w.run(D1).success
    w.ticks(trading_alerts)
    assert hook.posts == [] and smtp.messages == [] and w.rows().empty

    # the next day: account acct-kill's loss passes its kill switch, acct-liq's symphony cannot be evaluated
    set_account(w.wh, "acct-kill", daily_loss_kill_pct=0.00001)
    sym = w.wh.read("symphonies", where={"symphony_id": "doomed"}).iloc[0].to_dict()
    sym["parsed_json"] = sym["parsed_json"].replace("relative-strength-index", "no-such-function")
    w.wh.upsert("symphonies", pd.DataFrame([sym]), ["symphony_id"])
    result = w.run(D2)
    assert result.success
    w.ticks(trading_alerts)
    w.ticks(run_failure_alerts)          # a successful run is not the failure sensor's business
    texts = hook.texts()
    assert len(texts) == 2 and len(smtp.messages) == 2
    liq = next(t for t in texts if "liquidated" in t)
    assert liq.startswith("*[oragami] doomed liquidated to cash on 2024-06-21*\n")
    assert "account acct-liq" in liq and "no-such-function" in liq
    kill = next(t for t in texts if "Kill switch" in t)
    assert kill.startswith("*[oragami] Kill switch tripped for account acct-kill on 2024-06-21*\n")
    assert "since the last close (limit 0.00%)" in kill and "Blocked buys: " in kill
    assert sorted(smtp.subjects()) == ["[oragami] Kill switch tripped for account acct-kill on 2024-06-21",
                                       "[oragami] doomed liquidated to cash on 2024-06-21"]
    assert sorted(str(m["X-Oragami-Event"]) for m in smtp.messages) == [
        "kill_switch_tripped:2024-06-21:acct-kill", "symphony_liquidated:2024-06-21:doomed"]
    assert smtp.envelopes[0] == ("oragami@example.test", ["ops@example.test"])
    rows = w.rows()
    assert _kinds(rows) == [("kill_switch_tripped", "email", "sent"), ("kill_switch_tripped", "webhook", "sent"),
                            ("symphony_liquidated", "email", "sent"), ("symphony_liquidated", "webhook", "sent")]
    assert set(rows["attempts"]) == {1} and rows["last_error"].isna().all()
    assert set(rows["account_id"]) == {"acct-kill", "acct-liq"}
    trips = audit.read(w.wh, AccountScope.only("acct-kill"), actions=["kill_switch_tripped"])
    assert list(trips["target"]) == ["2024-06-21"]

    # re-running the session (an operator's retry) does not alert the same symphony or account again
    assert w.run(D2).success
    w.ticks(trading_alerts)
    assert len(hook.posts) == 2 and len(smtp.messages) == 2

    # the 15:50 run of the next session fails: the feed is down
    failed = w.run(D3, market_data=DownMarketData())
    assert not failed.success
    w.ticks(run_failure_alerts)
    w.ticks(trading_alerts)              # a failed run is not the success sensor's business
    assert len(hook.posts) == 3 and len(smtp.messages) == 3
    run_text = hook.texts()[-1]
    assert run_text.startswith(f"*[oragami] daily_trading {D3} failed at daily_bars*\n")
    assert f"Run {failed.run_id} of daily_trading {D3} failed." in run_text
    assert "step daily_bars: ConnectionError: market data feed unreachable (HTTP 503 from the vendor)" in run_text
    assert smtp.subjects()[-1] == f"[oragami] daily_trading {D3} failed at daily_bars"
    assert str(smtp.messages[-1]["X-Oragami-Event"]) == f"run_failed:{failed.run_id}"
    run_rows = w.rows()
    run_rows = run_rows[run_rows["kind"] == "run_failed"]
    assert sorted(run_rows["channel"]) == ["email", "webhook"] and set(run_rows["status"]) == {"sent"}
    assert run_rows["account_id"].isna().all() and set(run_rows["run_id"]) == {failed.run_id}
    # platform-wide: an analyst's scope does not see it
    assert notification_repo.read(w.wh, AccountScope.only("acct-kill"), kinds=["run_failed"]).empty
    assert list(audit.read(w.wh, ALL_ACCOUNTS, actions=["run_failed"])["target"]) == [failed.run_id]
    # nothing secret was stored: the webhook token is in no row
    assert not w.rows().astype(str).apply(lambda c: c.str.contains(WebhookReceiver.TOKEN)).any().any()
    w.wh.dispose()


@pytest.mark.slow
def test_a_failing_webhook_is_retried_then_recorded_failed_while_email_delivers(tmp_path, receivers):
    hook, smtp = receivers
    hook.fail_next = -1                  # the webhook answers 500 to everything
    w = World(tmp_path)
    seed_symphonies(w.wh, [write(tmp_path, "spy", '(weight-equal [(asset "SPY")])')], "acct")
    failed = w.run(D1, market_data=DownMarketData())
    assert not failed.success
    w.ticks(run_failure_alerts)
    assert hook.attempts == 3 and hook.posts == []                      # three tries, then given up
    assert len(smtp.messages) == 1 and str(smtp.messages[0]["X-Oragami-Event"]) == f"run_failed:{failed.run_id}"
    rows = w.rows().set_index("channel")
    assert rows.loc["webhook", "status"] == "failed" and rows.loc["webhook", "attempts"] == 3
    assert rows.loc["webhook", "last_error"] == "HTTP 500 Internal Server Error"
    assert rows.loc["email", "status"] == "sent" and rows.loc["email", "attempts"] == 1
    # the webhook comes back: the recorded failure is not resent by later ticks (once per channel)
    hook.fail_next = 0
    w.ticks(run_failure_alerts)
    assert hook.attempts == 3 and len(smtp.messages) == 1
    w.wh.dispose()


@pytest.mark.slow
def test_a_rejected_order_and_a_blocking_check_failure_are_alerted(tmp_path, receivers):
    hook, smtp = receivers
    w = World(tmp_path)
    seed_symphonies(w.wh, [write(tmp_path, "spy-tlt", '(weight-equal [(asset "SPY") (asset "TLT")])')], "acct")
    assert w.run(D1, broker=NoTltBroker()).success
    w.ticks(trading_alerts)
    [cid] = w.wh.read("orders", where={"status": "rejected"})["client_order_id"]
    assert [str(m[EVENT_HEADER]) for m in smtp.messages] == [f"order_rejected:{cid}"]
    assert hook.texts() == [f"*[oragami] Order rejected: buy TLT for account acct on {D1}*\nThe broker rejected "
                            f"buy TLT (5,000.00 USD) of account acct on {D1}.\nReason: no price for TLT\n"
                            f"Client order id: {cid}"]
    hook.posts.clear()
    smtp.messages.clear()

    class Gappy(BundledMarketData):
        def bars(self, tickers, start, end):
            bars = super().bars(tickers, start, end)
            return bars[~((bars["ticker"] == "TLT") & (bars["session_date"] == dt.date.fromisoformat(D2)))]

    result = w.run(D2, market_data=Gappy())
    w.ticks(run_failure_alerts)
    w.ticks(trading_alerts)
    keys = sorted(str(m["X-Oragami-Event"]) for m in smtp.messages)
    check_key = f"check_failed:{result.run_id}:daily_bars:daily_bars_complete"
    assert check_key in keys and keys.count(check_key) == 1
    text = next(t for t in hook.texts() if t.startswith("*[oragami] daily_bars_complete"))
    run_text = next(t for t in hook.texts() if t.startswith(f"*[oragami] daily_trading {D2} failed"))
    assert "step daily_bars_daily_bars_complete: DagsterAssetCheckFailedError: 1 blocking asset check failed" \
        in run_text
    assert text.startswith(f"*[oragami] daily_bars_complete failed on daily_bars {D2}: downstream steps stopped*")
    assert "missing: TLT" in text
    assert len(hook.posts) == len(smtp.messages) == len(set(keys))   # each event once on each channel
    w.wh.dispose()
