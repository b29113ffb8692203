"""The credential tables on both backends: ciphertext stored and read back exactly, one credential per account,
scoped reads, all-or-nothing re-encryption, one-time OAuth requests that expire."""
from __future__ import annotations

import base64
import datetime as dt

import pandas as pd
import pytest

from warehouse import AccountScope, Warehouse
from warehouse.repos import credentials as repo

KEY = repo.parse_master_key(base64.b64encode(b"R" * 32).decode())


def test_store_replace_scope_and_reseal(warehouse_url):
    with Warehouse(warehouse_url) as wh:
        wh.create_schema()
        a = repo.seal(KEY, "acct-a", "api_key", {"key_id": "PKAAAA11112222", "secret_key": "s-a"})
        repo.store(wh, "acct-a", "api_key", a, key_id_hint="…2222", broker_account="PA1", connected_by="alice")
        b = repo.seal(KEY, "acct-b", "oauth", {"access_token": "t-b"})
        repo.store(wh, "acct-b", "oauth", b, key_id_hint="oauth", broker_account=None, connected_by="bob")
        rows = repo.sealed_rows(wh, AccountScope.all())
        assert list(rows["account_id"]) == ["acct-a", "acct-b"]
        assert (rows.iloc[0]["ciphertext"], rows.iloc[0]["nonce"], rows.iloc[0]["key_version"]) == \
            (a.ciphertext, a.nonce, KEY.version)
        only_a = repo.status(wh, AccountScope.only("acct-a"))
        assert list(only_a["account_id"]) == ["acct-a"] and "ciphertext" not in only_a.columns
        assert list(only_a.columns) == list(repo.STATUS_COLUMNS)
        with pytest.raises(TypeError):
            repo.status(wh, None)
        # connecting again (another kind) replaces the account's credential
        c = repo.seal(KEY, "acct-a", "oauth", {"access_token": "t-a"})
        repo.store(wh, "acct-a", "oauth", c, key_id_hint="oauth", broker_account="PA1", connected_by="alice")
        rows = repo.sealed_rows(wh, AccountScope.only("acct-a"))
        assert list(rows["kind"]) == ["oauth"]
        # verification outcome
        assert repo.mark_verified(wh, "acct-a", ok=False, error="HTTP 401") == 1
        s = repo.status(wh, AccountScope.only("acct-a")).iloc[0]
        assert (s["status"], s["last_error"]) == ("failed", "HTTP 401")
        # a failing reseal changes nothing (one transaction)
        before = repo.sealed_rows(wh, AccountScope.all())

        def boom(row):
            if row["account_id"] == "acct-b":
                raise RuntimeError("cannot")
            return repo.seal(KEY, row["account_id"], row["kind"], {"access_token": "x"})

        with pytest.raises(RuntimeError):
            repo.reseal_all(wh, boom)
        after = repo.sealed_rows(wh, AccountScope.all())
        pd.testing.assert_series_equal(before["ciphertext"], after["ciphertext"])
        assert repo.reseal_all(wh, lambda r: repo.seal(KEY, r["account_id"], r["kind"], {"access_token": "y"})) == 2
        assert not set(repo.sealed_rows(wh, AccountScope.all())["ciphertext"]) & set(before["ciphertext"])
        assert repo.delete(wh, "acct-a") == 1 and repo.delete(wh, "acct-a") == 0


def test_pending_oauth_requests_are_hashed_one_time_and_expire(warehouse_url):
    with Warehouse(warehouse_url) as wh:
        wh.create_schema()
        now = dt.datetime(2026, 1, 2, 15, 0, tzinfo=dt.timezone.utc)
        expires = repo.add_pending(wh, "state-1", "acct-a", "alice", "http://127.0.0.1:8501/settings", now=now)
        assert expires == now + dt.timedelta(minutes=10)
        stored = wh.read("oauth_pending")
        assert list(stored["state_hash"]) == [repo.state_hash("state-1")] and "state-1" not in stored.to_csv()
        assert repo.take_pending(wh, "state-2", now=now) is None
        got = repo.take_pending(wh, "state-1", now=now + dt.timedelta(minutes=9))
        assert (got["account_id"], got["username"]) == ("acct-a", "alice")
        assert repo.take_pending(wh, "state-1", now=now) is None        # used once
        repo.add_pending(wh, "state-3", "acct-a", "alice", "http://x/settings", now=now)
        assert repo.take_pending(wh, "state-3", now=now + dt.timedelta(minutes=11)) is None   # expired
        assert wh.read("oauth_pending").empty
