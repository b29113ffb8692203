"""``oragami users|accounts|audit`` (orchestration/cli_admin.py) through the ``oragami`` entry point: what each role
may do with ``--as`` (admin: everything; operator and analyst: no user or account management), the machine's user
without ``--as``, the audit trail of every change, the older ``python -m dashboards.auth add-user`` door, and
``oragami seed`` recording its uploads."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from dashboards import auth
from orchestration.cli import main
from orchestration.cli_admin import ENV_CLI_PASSWORD
from warehouse import AccountScope, Warehouse
from warehouse.repos import audit
from warehouse.repos import users as user_repo

ROOT = Path(__file__).resolve().parents[2]
PASSWORDS = {"ada": "ada-admin-pass-1", "root": "root-pass-12", "alice": "alice-pass-1"}


@pytest.fixture
def wh_url(tmp_path, monkeypatch) -> str:
    url = f"duckdb:///{tmp_path / 'admin.duckdb'}"
    monkeypatch.setenv("ORAGAMI_WAREHOUSE_URL", url)
    monkeypatch.delenv("ORAGAMI_CLI_USER", raising=False)
    with Warehouse(url) as wh:
        wh.create_schema()
        user_repo.create_account(wh, "acct-a", "Alice", by=None)
        user_repo.create_account(wh, "acct-b", "Bob", by=None)
        auth.create_user(wh, "ada", PASSWORDS["ada"], "admin")
        auth.create_user(wh, "root", PASSWORDS["root"], "operator")
        auth.create_user(wh, "alice", PASSWORDS["alice"], "analyst", "acct-a")
    return url


def _as(monkeypatch, name: str) -> list[str]:
    monkeypatch.setenv(ENV_CLI_PASSWORD, PASSWORDS[name])
    return ["--as", name]


def _stdin(monkeypatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text + "\n"))


def _events(url: str, action: str):
    with Warehouse(url) as wh:
        return audit.read(wh, AccountScope.all(), actions=[action])


@pytest.mark.parametrize("name", ["root", "alice"])
def test_operators_and_analysts_cannot_manage_users_or_accounts(wh_url, monkeypatch, capsys, name):
    who = _as(monkeypatch, name)
    role = {"root": "an operator", "alice": "an analyst"}[name]
    for argv in (["users", "add", "eve", "--role", "analyst", "--account", "acct-a", "--password-stdin"],
                 ["users", "disable", "ada"], ["users", "reset-password", "ada"], ["users", "list"],
                 ["users", "set-role", "alice", "--role", "admin"],
                 ["accounts", "add", "acct-z"], ["accounts", "set-risk", "acct-a", "--max-active", "3"],
                 ["accounts", "disable", "acct-b"], ["accounts", "list"]):
        _stdin(monkeypatch, "eves-password-123")
        assert main([*argv, *who]) == 2, argv
        err = capsys.readouterr().err
        assert f"error: {name} is {role}: managing users, accounts and risk gates needs the admin role" in err
    with Warehouse(wh_url) as wh:
        assert user_repo.get(wh, "eve") is None and not user_repo.get(wh, "ada").disabled
        accounts = user_repo.list_accounts(wh).set_index("account_id")
    assert set(accounts.index) == {"acct-a", "acct-b"} and accounts.loc["acct-a", "max_active_symphonies"] == 40
    assert _events(wh_url, "user_created")["target"].tolist().count("eve") == 0


def test_an_admin_manages_users_accounts_and_risk_gates(wh_url, monkeypatch, capsys):
    who = _as(monkeypatch, "ada")
    _stdin(monkeypatch, "eves-password-123")
    assert main(["users", "add", "eve", "--role", "analyst", "--account", "acct-a", "--account", "acct-b",
                 "--password-stdin", *who]) == 0
    assert "user eve (analyst, acct-a, acct-b) saved" in capsys.readouterr().out
    assert main(["accounts", "add", "acct-c", "--name", "Carol", *who]) == 0
    assert main(["accounts", "set-risk", "acct-a", "--max-order-usd", "2500", "--daily-loss-kill-pct", "0.05",
                 "--max-active", "12", "--dry-run", "true", *who]) == 0
    out = capsys.readouterr().out
    assert ("account acct-a: max_order_notional_usd = 2500.0, daily_loss_kill_pct = 0.05, max_active_symphonies = 12, "
            "dry_run = True") in out
    assert main(["accounts", "set-risk", "acct-a", "--max-order-usd", "none", *who]) == 0
    assert main(["accounts", "set-risk", "acct-a", "--daily-loss-kill-pct", "5", *who]) == 2
    assert "daily_loss_kill_pct is a fraction between 0 and 1" in capsys.readouterr().err
    assert main(["users", "reset-password", "alice", *who]) == 0
    out = capsys.readouterr().out
    temp = out.split("temporary password (shown once): ")[1].strip()
    assert main(["users", "disable", "root", *who]) == 0
    assert main(["accounts", "disable", "acct-b", *who]) == 0
    assert main(["users", "list", "--json", *who]) == 0
    listed = {u["username"]: u for u in json.loads(capsys.readouterr().out.strip().splitlines()[-1])}
    assert listed["eve"]["accounts"] == "acct-a, acct-b" and listed["root"]["disabled"] is True
    assert listed["alice"]["must_change_password"] is True
    with Warehouse(wh_url) as wh:
        gates = wh.read("accounts", where={"account_id": "acct-a"}).iloc[0]
        assert pd.isna(gates["max_order_notional_usd"])          # 'none' removed the limit again
        assert (gates["daily_loss_kill_pct"], gates["max_active_symphonies"], bool(gates["dry_run"])) == \
            (0.05, 12, True)
        alice = auth.authenticate(wh, "alice", temp)
        assert alice is not None and auth.authenticate(wh, "alice", PASSWORDS["alice"]) is None
        assert auth.authenticate(wh, "root", PASSWORDS["root"]) is None      # disabled
        events = audit.read(wh, AccountScope.all())
    mine = events[(events["actor"] == "ada") & (events["action"] != "sign_in_ok")]
    signed = events[(events["actor"] == "ada") & (events["action"] == "sign_in_ok")]
    assert len(signed) == 9 and set(signed["origin"]) == {"cli"}      # each of the 9 --as commands signed in
    assert sorted(mine["action"]) == sorted(["user_created", "account_created", "risk_gate_changed",
                                             "risk_gate_changed", "password_reset", "user_disabled",
                                             "account_disabled"])
    assert set(mine["origin"]) == {"cli"} and set(mine["role"]) == {"admin"}
    assert not any(temp in str(d) or "eves-password-123" in str(d) for d in events["detail"])


def test_a_wrong_password_for_as_is_refused_and_counts_towards_the_lock(wh_url, monkeypatch, capsys):
    monkeypatch.setenv(ENV_CLI_PASSWORD, "not-adas-password")
    for _ in range(5):
        assert main(["users", "list", "--as", "ada"]) == 2
        assert "sign-in as ada refused: Wrong username or password." in capsys.readouterr().err
    monkeypatch.setenv(ENV_CLI_PASSWORD, PASSWORDS["ada"])
    assert main(["users", "list", "--as", "ada"]) == 2
    assert "Too many failed sign-ins" in capsys.readouterr().err


def test_without_as_the_machines_user_acts_and_is_recorded(wh_url, monkeypatch, capsys):
    _stdin(monkeypatch, "weak")
    assert main(["users", "add", "zoe", "--role", "operator", "--password-stdin"]) == 2
    assert "error: password shorter than 12 characters" in capsys.readouterr().err
    _stdin(monkeypatch, "zoes-password-42")
    assert main(["users", "add", "zoe", "--role", "admin", "--password-stdin", "--must-change"]) == 0
    created = _events(wh_url, "user_created")
    row = created[created["target"] == "zoe"].iloc[0]
    assert row["actor"].startswith("cli:") and row["role"] == "system" and row["origin"] == "cli"
    assert "role admin, every account, must change password" == row["detail"]
    assert main(["users", "set-role", "ghost", "--role", "operator"]) == 2
    assert "no user 'ghost'" in capsys.readouterr().err


def test_audit_lists_and_exports_within_the_users_scope(wh_url, monkeypatch, capsys, tmp_path):
    with Warehouse(wh_url) as wh:
        audit.record(wh, action="symphony_activated", actor="alice", role="analyst", account_id="acct-a",
                     target="sym-a", origin="dashboard")
        audit.record(wh, action="symphony_activated", actor="bob", role="analyst", account_id="acct-b",
                     target="sym-b", origin="dashboard")
    out_file = tmp_path / "audit.csv"
    assert main(["audit", "--action", "symphony_activated", "--csv", str(out_file), *_as(monkeypatch, "alice")]) == 0
    rows = list(csv.DictReader(out_file.open()))
    assert [(r["actor"], r["account_id"], r["target"]) for r in rows] == [("alice", "acct-a", "sym-a")]
    assert capsys.readouterr().out == f"1 events written to {out_file}\n"
    assert main(["audit", "--action", "symphony_activated", "--csv", "-", *_as(monkeypatch, "root")]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sorted(r["target"] for r in rows) == ["sym-a", "sym-b"]
    assert main(["audit", "--since", "yesterday"]) == 2


def test_seed_records_each_upload(wh_url, capsys):
    assert main(["seed", str(ROOT / "symphonies" / "golden_rotation_2x.clj"), "--account", "acct-a",
                 "--no-data-check"]) == 0
    events = _events(wh_url, "symphony_uploaded")
    assert list(zip(events["account_id"], events["target"], events["origin"], events["detail"])) == \
        [("acct-a", "golden-rotation-2x", "cli", "oragami seed")]


def test_the_older_add_user_door_still_works(tmp_path):
    url = f"duckdb:///{tmp_path / 'old-door.duckdb'}"
    with Warehouse(url) as wh:
        wh.create_schema()
        user_repo.create_account(wh, "acct-a", None, by=None)
    env = {**os.environ, "ORAGAMI_WAREHOUSE_URL": url}
    done = subprocess.run([sys.executable, "-m", "dashboards.auth", "add-user", "amy", "--role", "analyst",
                           "--account", "acct-a", "--password-stdin"], input="amys-password-77\n", cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "user amy (analyst, account acct-a) saved" in done.stdout and "amys-password-77" not in done.stdout
    weak = subprocess.run([sys.executable, "-m", "dashboards.auth", "add-user", "amy", "--role", "analyst",
                           "--account", "acct-a", "--password-stdin"], input="password\n", cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert weak.returncode == 2 and "error: password shorter than 12 characters" in weak.stderr
    with Warehouse(url) as wh:
        assert auth.authenticate(wh, "amy", "amys-password-77") == auth.User("amy", "analyst", "acct-a")


def test_the_last_enabled_admin_cannot_be_disabled_or_demoted(wh_url, monkeypatch, capsys):
    who = _as(monkeypatch, "ada")
    assert main(["users", "disable", "ada", *who]) == 2
    assert "error: 'ada' is the last enabled admin: make another admin first" in capsys.readouterr().err
    assert main(["users", "set-role", "ada", "--role", "operator", *who]) == 2
    _stdin(monkeypatch, "second-admin-pass-5")
    assert main(["users", "add", "bea", "--role", "admin", "--password-stdin", *who]) == 0
    assert main(["users", "set-role", "ada", "--role", "operator", *who]) == 0
    with Warehouse(wh_url) as wh:
        assert user_repo.get(wh, "ada").role == "operator" and user_repo.get(wh, "bea").role == "admin"
