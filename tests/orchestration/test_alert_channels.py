"""The alert channels against local receivers on 127.0.0.1: retries of transient errors only, one channel failing
while the other delivers, once per channel, secrets never stored or logged, and the DuckDB lock's alert (the CLI's
one line plus an alert; a Dagster run stopped by the lock alerts ``warehouse_locked``)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from orchestration.definitions import build_definitions
from pipelines import sensors
from resources.alerts import Alert, AlertsResource, EVENT_HEADER
from resources.warehouse import WarehouseResource
from tests.fakes.alert_receivers import SmtpReceiver, WebhookReceiver
from tests.warehouse.test_lock_wait import Notebook
from warehouse import Warehouse
from warehouse.repos import notifications as notification_repo
from warehouse.scope import ALL_ACCOUNTS

ROOT = Path(__file__).resolve().parents[2]
ALERT_ENV = ("ORAGAMI_ALERT_WEBHOOK_URL", "ORAGAMI_ALERT_SMTP_HOST", "ORAGAMI_ALERT_SMTP_PORT",
             "ORAGAMI_ALERT_SMTP_SECURITY", "ORAGAMI_ALERT_SMTP_USER", "ORAGAMI_ALERT_SMTP_PASSWORD",
             "ORAGAMI_ALERT_SMTP_FROM", "ORAGAMI_ALERT_SMTP_TO")
PASSWORD = "smtp-pass-7Qx9-not-for-logs"


@pytest.fixture(autouse=True)
def _no_alert_env(monkeypatch):
    for name in ALERT_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def wh(tmp_path):
    w = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    w.create_schema()
    yield w
    w.dispose()


def channel_env(hook: WebhookReceiver | None, smtp: SmtpReceiver, login: bool = False) -> dict[str, str]:
    env = {"ORAGAMI_ALERT_SMTP_HOST": "127.0.0.1",
           "ORAGAMI_ALERT_SMTP_PORT": str(smtp.port), "ORAGAMI_ALERT_SMTP_SECURITY": "none",
           "ORAGAMI_ALERT_SMTP_FROM": "oragami@example.test", "ORAGAMI_ALERT_SMTP_TO": "ops@example.test"}
    if hook is not None:
        env["ORAGAMI_ALERT_WEBHOOK_URL"] = hook.url
    if login:
        env |= {"ORAGAMI_ALERT_SMTP_USER": "bot", "ORAGAMI_ALERT_SMTP_PASSWORD": PASSWORD}
    return env


def alert(key: str = "order_rejected:o-1", text: str = "The broker rejected buy SPY.") -> Alert:
    return Alert(key=key, kind="order_rejected", title="Order rejected: buy SPY", text=text, account_id="acct")


FAST = AlertsResource(backoff_s=0.0, timeout_s=5.0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_transient_errors_are_retried_and_each_channel_recorded_once(wh, monkeypatch):
    with WebhookReceiver() as hook, SmtpReceiver() as smtp:
        for k, v in channel_env(hook, smtp).items():
            monkeypatch.setenv(k, v)
        hook.fail_next, smtp.fail_next = 2, 1           # 500, 500, then 200; 451, then 250
        done = FAST.notify(wh, [alert()])
        assert [(d.channel, d.status, d.attempts) for d in done] == [("webhook", "sent", 3), ("email", "sent", 2)]
        assert (hook.attempts, len(hook.posts), smtp.attempts, len(smtp.messages)) == (3, 1, 2, 1)
        assert hook.posts[0]["text"] == "*[oragami] Order rejected: buy SPY*\nThe broker rejected buy SPY."
        assert hook.posts[0]["content_type"] == "application/json; charset=utf-8"
        assert smtp.messages[0]["Subject"] == "[oragami] Order rejected: buy SPY"
        assert smtp.messages[0][EVENT_HEADER] == "order_rejected:o-1"
        assert smtp.messages[0].get_content().strip() == "The broker rejected buy SPY."
        # the same event again (a sensor re-evaluating): nothing sent
        again = FAST.notify(wh, [alert()])
        assert [d.status for d in again] == ["duplicate", "duplicate"]
        assert (hook.attempts, smtp.attempts) == (3, 2)
    rows = notification_repo.read(wh, ALL_ACCOUNTS).set_index("channel")
    assert rows.loc["webhook", ["status", "attempts"]].tolist() == ["sent", 3]
    assert rows.loc["email", ["status", "attempts"]].tolist() == ["sent", 2]
    assert rows["last_error"].isna().all() and rows["sent_at"].notna().all()
    assert set(rows["account_id"]) == {"acct"}


def test_permanent_errors_fail_at_once_and_the_other_channel_still_delivers(wh, monkeypatch):
    with WebhookReceiver() as hook, SmtpReceiver() as smtp:
        for k, v in channel_env(hook, smtp).items():
            monkeypatch.setenv(k, v)
        hook.fail_next, hook.fail_status = -1, 404      # a revoked webhook
        done = FAST.notify(wh, [alert()])
        assert [(d.channel, d.status, d.attempts, d.error) for d in done] == [
            ("webhook", "failed", 1, "HTTP 404 Not Found"), ("email", "sent", 1, None)]
        smtp.fail_next, smtp.fail_reply = -1, "550 5.1.1 mailbox unavailable"
        hook.fail_next = 0
        done = FAST.notify(wh, [alert("order_rejected:o-2")])
        assert [(d.channel, d.status, d.attempts, d.error) for d in done] == [
            ("webhook", "sent", 1, None), ("email", "failed", 1, "SMTP 550 5.1.1 mailbox unavailable")]
        assert smtp.attempts == 2 and len(smtp.messages) == 1 and len(hook.posts) == 1


def test_a_receiver_that_is_down_is_retried_then_failed_without_leaking_the_token(wh, monkeypatch):
    dead = f"http://127.0.0.1:{_free_port()}/services/T000/B000/{WebhookReceiver.TOKEN}"
    monkeypatch.setenv("ORAGAMI_ALERT_WEBHOOK_URL", dead)
    sleeps: list[float] = []
    done = AlertsResource(backoff_s=0.5, max_backoff_s=1.0).notify(wh, [alert()], sleep=sleeps.append)
    assert [(d.channel, d.status, d.attempts) for d in done] == [("webhook", "failed", 3)]
    assert sleeps == [0.5, 1.0]                         # exponential back-off, capped
    assert "ConnectionRefusedError" in done[0].error
    # the channel stayed down through its retries: the next alerts of the same call get one try each
    more = AlertsResource(backoff_s=0.5).notify(wh, [alert("order_rejected:o-2"), alert("order_rejected:o-3")],
                                                sleep=sleeps.append)
    assert [(d.status, d.attempts) for d in more] == [("failed", 3), ("failed", 1)]
    blob = notification_repo.read(wh, ALL_ACCOUNTS).astype(str).to_csv()
    assert WebhookReceiver.TOKEN not in blob and "/services/" not in blob


def test_smtp_login_and_secrets_are_never_stored(wh, monkeypatch, caplog):
    with WebhookReceiver() as hook, SmtpReceiver(login=("bot", PASSWORD)) as smtp:
        for k, v in channel_env(hook, smtp, login=True).items():
            monkeypatch.setenv(k, v)
        caplog.set_level("DEBUG")
        leaky = alert(text=f"broker said: bad credentials {PASSWORD} for {hook.url}")
        done = FAST.notify(wh, [leaky])
        assert [d.status for d in done] == ["sent", "sent"]
        assert hook.posts[0]["text"].endswith("broker said: bad credentials *** for ***")
        assert smtp.messages[0].get_content().strip() == "broker said: bad credentials *** for ***"
        monkeypatch.setenv("ORAGAMI_ALERT_SMTP_PASSWORD", "wrong-password-123")
        done = AlertsResource(backoff_s=0.0, timeout_s=1.0, attempts=2).notify(wh, [alert("order_rejected:o-3")])
        assert [(d.channel, d.status) for d in done] == [("webhook", "sent"), ("email", "failed")]
        assert "wrong-password" not in done[1].error
    blob = notification_repo.read(wh, ALL_ACCOUNTS).astype(str).to_csv() + caplog.text
    for secret in (PASSWORD, "wrong-password-123", WebhookReceiver.TOKEN):
        assert secret not in blob


def test_misconfigured_channel_fails_alone_and_nothing_configured_only_records(wh, monkeypatch):
    with SmtpReceiver() as smtp:
        monkeypatch.setenv("ORAGAMI_ALERT_WEBHOOK_URL", "file:///etc/passwd")
        for k, v in channel_env(None, smtp).items():
            monkeypatch.setenv(k, v)
        done = FAST.notify(wh, [alert()])
        assert [(d.channel, d.status, d.error) for d in done] == [
            ("webhook", "failed", "ORAGAMI_ALERT_WEBHOOK_URL must be an http(s) URL with a host"),
            ("email", "sent", None)]
        assert len(smtp.messages) == 1
    for name in ALERT_ENV:
        monkeypatch.delenv(name, raising=False)
    done = FAST.notify(wh, [alert("order_rejected:o-9")])
    assert [(d.channel, d.status) for d in done] == [("none", "recorded")]
    assert [(d.channel, d.status) for d in FAST.notify(wh, [alert("order_rejected:o-9")])] == [("none", "duplicate")]
    row = notification_repo.read(wh, ALL_ACCOUNTS, kinds=["order_rejected"], statuses_in=["recorded"])
    assert row[["event_key", "channel", "attempts"]].values.tolist() == [["order_rejected:o-9", "none", 0]]


def test_run_daily_locked_prints_one_line_exits_3_and_alerts(tmp_path):
    path = tmp_path / "oragami.duckdb"
    with Warehouse(f"duckdb:///{path}") as w:
        w.create_schema()
    with WebhookReceiver() as hook, SmtpReceiver() as smtp:
        env = {**{k: v for k, v in os.environ.items() if k not in ALERT_ENV}, **channel_env(hook, smtp),
               "ORAGAMI_WAREHOUSE_URL": f"duckdb:///{path}", "ORAGAMI_LOCK_WAIT_S": "1"}
        with Notebook(path, hold_s=120) as nb:
            out = subprocess.run([sys.executable, "-m", "orchestration.cli", "run-daily", "--session", "2024-06-21"],
                                 cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
            pid = nb.proc.pid
        assert out.returncode == 3, out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: DuckDB file {path} is locked by another process: "
                                                       f"PID {pid} (")
        assert len(hook.posts) == 1 and len(smtp.messages) == 1
        text = hook.posts[0]["text"]
        assert text.startswith("*[oragami] oragami run-daily gave up: the warehouse is locked*\n")
        assert lines[0].removeprefix("error: ") in text
        assert smtp.messages[0]["Subject"] == "[oragami] oragami run-daily gave up: the warehouse is locked"
        assert str(smtp.messages[0][EVENT_HEADER]).startswith("warehouse_locked:cli:run-daily:")


@pytest.mark.slow
def test_a_dagster_run_stopped_by_the_lock_alerts_warehouse_locked(tmp_path, monkeypatch):
    path = tmp_path / "oragami.duckdb"
    url = f"duckdb:///{path}"
    with Warehouse(url) as w:
        w.create_schema()
    (tmp_path / "home").mkdir()
    instance = dg.DagsterInstance.local_temp(str(tmp_path / "home"))
    resources = {"alerts": FAST, "warehouse": WarehouseResource(url=url)}
    monkeypatch.setattr(sensors, "ALERT_LOCK_WAIT_S", 0.5)
    monkeypatch.setenv("ORAGAMI_LOCK_WAIT_S", "1")
    with WebhookReceiver() as hook, SmtpReceiver() as smtp:
        for k, v in channel_env(hook, smtp).items():
            monkeypatch.setenv(k, v)
        with dg.build_sensor_context(instance=instance, resources=resources) as ctx:
            cursor = sensors.run_failure_alerts.evaluate_tick(ctx).cursor
        with Notebook(path, hold_s=120) as nb:
            job = build_definitions(warehouse_url=url).resolve_job_def("daily_trading")
            result = job.execute_in_process(partition_key="2024-06-21", instance=instance, raise_on_error=False)
            assert not result.success
            with dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor) as ctx:
                cursor = sensors.run_failure_alerts.evaluate_tick(ctx).cursor
            pid = nb.proc.pid
        with dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor) as ctx:
            sensors.run_failure_alerts.evaluate_tick(ctx)
    assert len(hook.posts) == 1 and len(smtp.messages) == 1
    text = hook.posts[0]["text"]
    assert text.startswith("*[oragami] daily_trading 2024-06-21 failed: the warehouse is locked*\n")
    assert f"step daily_bars: DuckDB file {path} is locked by another process: PID {pid} (" in text
    assert str(smtp.messages[0][EVENT_HEADER]) == f"run_failed:{result.run_id}"
