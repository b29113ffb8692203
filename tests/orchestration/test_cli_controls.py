"""``oragami controls set|clear|list|preview`` through the CLI's own entry point (issue 10 item 7)."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from dashboards import auth
from orchestration.cli import main, seed_symphonies
from warehouse import AccountScope, Warehouse
from warehouse.bundled import load_adjusted_closes
from warehouse.repos import audit
from warehouse.repos import symphonies as symphony_repo


def write(tmp_path: Path, name: str, body: str) -> Path:
    p = tmp_path / f"{name}.clj"
    p.write_text(f'(defsymphony "{name}" {{:asset-class "EQUITIES", :rebalance-frequency :daily}} {body})')
    return p


@pytest.fixture
def url(tmp_path):
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    with Warehouse(url) as wh:
        wh.create_schema()
        seed_symphonies(wh, [write(tmp_path, "spy-1", '(weight-equal [(asset "SPY")])'),
                             write(tmp_path, "spy-tlt", '(weight-equal [(asset "SPY") (asset "TLT")])')], "acct-1")
        symphony_repo.ensure_account(wh, "acct-2")
        auth.create_user(wh, "root", "root-pass-1234", "operator")
        auth.create_user(wh, "alice", "alice-pass-1234", "analyst", "acct-1")
        auth.create_user(wh, "bob", "bob-pass-12345", "analyst", "acct-2")
        closes = load_adjusted_closes(["SPY", "TLT"], start="2024-05-01", end="2024-06-21")
        long = closes.stack().rename("adj_close").reset_index()
        long.columns = ["session_date", "ticker", "adj_close"]
        long["session_date"] = long["session_date"].dt.date
        wh.replace("daily_bars", long.assign(source="bundled"), where={"ticker": ["SPY", "TLT"]})
    return url


def cli(capsys, *args) -> tuple[int, str, str]:
    code = main(["controls", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_set_list_preview_clear(url, capsys):
    w = ["--warehouse", url]
    code, _, err = cli(capsys, "set", "--user", "bob", "--symphony", "spy-1", "--control", "cash_until_rebalance",
                       "--from-session", "2024-06-21", *w)
    assert code == 2 and err.strip() == ("error: analyst of account 'acct-2' may not change the controls of account "
                                         "'acct-1'")
    code, _, err = cli(capsys, "set", "--user", "eve", "--symphony", "spy-1", "--control", "cash_until_rebalance", *w)
    assert code == 2 and err.startswith("error: no user 'eve'")
    code, _, err = cli(capsys, "set", "--user", "alice", "--symphony", "spy-1", "--control", "cash_until_rebalance",
                       "--from-session", "2024-06-22", *w)
    assert code == 2 and err.strip() == "error: 2024-06-22 is not an NYSE session"
    code, out, _ = cli(capsys, "set", "--user", "alice", "--symphony", "spy-1", "--control", "cash_until_rebalance",
                       "--from-session", "2024-06-21", "--note", "FOMC", *w)
    assert code == 0 and out.startswith("spy-1: cash_until_rebalance from session 2024-06-21 (set by alice at ")
    code, out, _ = cli(capsys, "list", "--user", "alice", *w)
    assert code == 0
    assert out.splitlines()[1].split()[:6] == ["acct-1", "spy-1", "cash_until_rebalance", "open", "2024-06-21",
                                               "alice"]
    code, out, _ = cli(capsys, "list", "--user", "bob", *w)
    assert code == 0 and out.strip() == "no open controls"   # bob's scope is acct-2

    code, out, _ = cli(capsys, "preview", "--account", "acct-1", "--session", "2024-06-21", "--user", "alice",
                       "--json", *w)
    assert code == 0
    pv = json.loads(out)
    assert pv["prices_as_of"] == "2024-06-21" and pv["refused"] is None
    # spy-1 goes to cash (holds only cash: nothing to sell); spy-tlt's first trade: 5,000 USD each, nothing else
    assert [(o["ticker"], o["side"], o["notional_usd"], o["symphonies"]) for o in pv["orders"]] == [
        ("SPY", "buy", 5000.0, "spy-tlt"), ("TLT", "buy", 5000.0, "spy-tlt")]
    decisions = {s["symphony_id"]: s["decision"] for s in pv["symphonies"]}
    assert decisions["spy-1"].startswith("to cash — cash_until_rebalance set by alice")
    assert decisions["spy-tlt"] == "trade — first trade of this ledger"
    code, _, err = cli(capsys, "preview", "--account", "acct-1", "--session", "2024-06-21", "--user", "bob", *w)
    assert code == 2 and "may not read account 'acct-1'" in err
    code, out, _ = cli(capsys, "preview", "--account", "acct-1", "--symphony", "spy-1", "--session", "2024-06-21",
                       "--user", "root", *w)
    assert code == 0 and out.splitlines()[0] == ("preview of 2024-06-21 for account acct-1 (prices as of "
                                                 "2024-06-21; nothing sent)")
    assert out.rstrip().endswith("no orders")
    with Warehouse(url, read_only=True) as wh:
        assert wh.read("orders").empty and wh.read("order_intents").empty   # nothing written, nothing sent

    code, out, _ = cli(capsys, "clear", "--user", "root", "--symphony", "spy-1", *w)
    assert code == 0 and out.strip() == "spy-1: cash_until_rebalance cleared by root"
    code, out, _ = cli(capsys, "clear", "--user", "root", "--symphony", "spy-1", *w)
    assert code == 0 and out.strip() == "spy-1: no open control"
    code, out, _ = cli(capsys, "list", "--all", "--user", "root", *w)
    assert code == 0 and out.splitlines()[1].split()[:4] == ["acct-1", "spy-1", "cash_until_rebalance", "cleared"]
    with Warehouse(url, read_only=True) as wh:
        events = audit.read(wh, AccountScope.only("acct-1"), actions=["live_control_set", "live_control_cleared"])
    assert sorted(zip(events["action"], events["actor"], events["origin"])) == [
        ("live_control_cleared", "root", "cli"), ("live_control_set", "alice", "cli")]
    assert set(events["target"]) == {"spy-1"}
    assert dt.date(2024, 6, 21).isoformat() in " ".join(events["detail"])
