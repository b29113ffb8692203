"""The audit trail: append-only rows, scoped reads, refusals (warehouse.repos.audit)."""
from __future__ import annotations

import datetime as dt

import pytest

from warehouse import Warehouse
from warehouse.repos import audit
from warehouse.scope import AccountScope

T0 = dt.datetime(2026, 7, 1, 14, 0, tzinfo=dt.timezone.utc)


def test_record_and_scoped_read(wh: Warehouse) -> None:
    audit.record(wh, action="sign_in_ok", actor="alice", role="analyst", account_id="acct-a", origin="dashboard",
                 at=T0)
    audit.record(wh, action="symphony_activated", actor="bob", role="analyst", account_id="acct-b",
                 target="sym-1", at=T0 + dt.timedelta(minutes=1))
    audit.record(wh, action="user_created", actor="root", role="admin", target="carol",
                 at=T0 + dt.timedelta(minutes=2))

    every = audit.read(wh, AccountScope.all())
    assert list(every["action"]) == ["user_created", "symphony_activated", "sign_in_ok"]  # newest first
    only_a = audit.read(wh, AccountScope.only("acct-a"))
    assert list(only_a["actor"]) == ["alice"] and list(only_a["account_id"]) == ["acct-a"]
    assert list(audit.read(wh, AccountScope.all(), actions=["symphony_activated"])["target"]) == ["sym-1"]
    assert len(audit.read(wh, AccountScope.all(), since=T0 + dt.timedelta(seconds=30))) == 2


def test_unknown_action_and_secret_refused(wh: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="unknown audit action"):
        audit.record(wh, action="did_something", actor="x")
    monkeypatch.setenv("ALPACA_SECRET_KEY", "SECRET-sk-1234567890")
    with pytest.raises(ValueError, match="secret"):
        audit.record(wh, action="broker_connected", actor="x", detail="key SECRET-sk-1234567890")
    assert audit.read(wh, AccountScope.all()).empty


def test_scope_required(wh: Warehouse) -> None:
    with pytest.raises(TypeError):
        audit.read(wh, None)  # type: ignore[arg-type]
