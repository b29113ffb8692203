"""The notifications repository on both backends: a pair is claimed once, its outcome recorded, reads are scoped
(platform-wide rows for every-account scopes only), and secret values are refused."""
from __future__ import annotations

import datetime as dt

import pytest

from warehouse import AccountScope, Warehouse
from warehouse.repos import notifications as repo
from warehouse.scope import ALL_ACCOUNTS

T0 = dt.datetime(2024, 6, 21, 20, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def wh(warehouse_url):
    w = Warehouse(warehouse_url)
    w.create_schema()
    yield w
    w.dispose()


def event(key: str, kind: str = "order_rejected", account: str | None = "alpha", message: str = "rejected") -> dict:
    return {"event_key": key, "kind": kind, "account_id": account, "symphony_id": None,
            "session_date": dt.date(2024, 6, 21), "run_id": "r1", "title": f"title of {key}", "message": message}


def test_claim_once_finish_and_read_in_scope(wh):
    assert repo.claim(wh, event("order_rejected:o1"), "webhook", at=T0) is True
    assert repo.claim(wh, event("order_rejected:o1"), "webhook") is False           # the second claim loses
    assert repo.claim(wh, event("order_rejected:o1"), "email", at=T0) is True       # another channel is its own
    assert repo.claim(wh, event("run_failed:r1", "run_failed", None), "none", status="recorded",
                      at=T0 + dt.timedelta(minutes=1)) is True
    repo.finish(wh, "order_rejected:o1", "webhook", status="sent", attempts=2, at=T0 + dt.timedelta(seconds=3))
    repo.finish(wh, "order_rejected:o1", "email", status="failed", attempts=3, last_error="SMTP 451 later")
    assert repo.statuses(wh, "order_rejected:o1") == {"webhook": "sent", "email": "failed"}
    assert repo.statuses(wh, "nothing") == {}
    every = repo.read(wh, ALL_ACCOUNTS)
    assert list(zip(every["event_key"], every["channel"], every["status"], every["attempts"])) == [
        ("run_failed:r1", "none", "recorded", 0), ("order_rejected:o1", "email", "failed", 3),
        ("order_rejected:o1", "webhook", "sent", 2)]
    sent = every[every["channel"] == "webhook"].iloc[0]
    assert sent["sent_at"] == T0 + dt.timedelta(seconds=3) and sent["created_at"] == T0
    mine = repo.read(wh, AccountScope.only("alpha"))
    assert sorted(mine["channel"]) == ["email", "webhook"]                       # no platform-wide row
    assert repo.read(wh, AccountScope.only("beta")).empty
    assert list(repo.read(wh, ALL_ACCOUNTS, kinds=["run_failed"])["event_key"]) == ["run_failed:r1"]
    assert list(repo.read(wh, ALL_ACCOUNTS, statuses_in=["failed"])["channel"]) == ["email"]
    with pytest.raises(TypeError):
        repo.read(wh, None)  # type: ignore[arg-type]


def test_bad_input_and_secrets_are_refused(wh, monkeypatch):
    with pytest.raises(ValueError, match="unknown notification kind"):
        repo.claim(wh, event("x", kind="gossip"), "webhook")
    with pytest.raises(ValueError, match="unknown channel"):
        repo.claim(wh, event("x"), "pager")
    with pytest.raises(KeyError):
        repo.finish(wh, "never-claimed", "webhook", status="sent", attempts=1)
    monkeypatch.setenv("ORAGAMI_ALERT_SMTP_PASSWORD", "hunter2-hunter2")
    with pytest.raises(ValueError, match="secret"):
        repo.claim(wh, event("x", message="login hunter2-hunter2 refused"), "email")
    assert repo.claim(wh, event("x"), "email")
    with pytest.raises(ValueError, match="secret"):
        repo.finish(wh, "x", "email", status="failed", attempts=1, last_error="bad hunter2-hunter2")
    assert repo.read(wh, ALL_ACCOUNTS)["message"].tolist() == ["rejected"]
