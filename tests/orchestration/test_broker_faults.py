"""Broker faults against the fake Alpaca server, two accounts each on its own fake (real alpaca-py client).

In every scenario: orders at the broker = orders recorded (with the broker's id and status) = unique client ids;
the summed ledgers equal the broker's positions; the healthy account is unaffected. ``-s`` prints the counts.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from assets.daily import DAILY_ASSETS, daily_nav, ledgers_hold, orders_answered, positions
from orchestration.cli import seed_symphonies
from orchestration.definitions import build_resources
from resources import AlpacaBroker
from tests.fakes.alpaca_server import FakeAlpacaServer
from warehouse import Warehouse
from warehouse.bundled import load_adjusted_closes
from warehouse.repos import orders as order_repo

D1 = "2024-06-21"
SESSION = dt.date.fromisoformat(D1)
KEY, SECRET = "fake-key-id", "fake-secret-key"
ORDER_COLUMNS = ["client_order_id", "ticker", "side", "notional_usd", "qty", "status", "filled_qty",
                 "filled_avg_price", "reason"]


def prices() -> dict[str, float]:
    row = load_adjusted_closes(["SPY", "TLT"], end=D1).iloc[-1]
    return {t: float(v) for t, v in row.items()}


def write(tmp_path: Path, name: str, body: str) -> Path:
    p = tmp_path / f"{name.replace(' ', '_')}.clj"
    p.write_text(f'(defsymphony "{name}" {{:rebalance-frequency :daily}} {body})')
    return p


def make_world(tmp_path: Path, accounts=("alpha", "beta")) -> tuple[str, Warehouse]:
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    wh = Warehouse(url)
    wh.create_schema()
    if "alpha" in accounts:
        seed_symphonies(wh, [write(tmp_path, "all spy", '(weight-equal [(asset "SPY")])'),
                             write(tmp_path, "spy tlt", '(weight-equal [(asset "SPY") (asset "TLT")])')], "alpha")
    if "beta" in accounts:
        seed_symphonies(wh, [write(tmp_path, "beta mix", '(weight-equal [(asset "SPY") (asset "TLT")])')], "beta")
    return url, wh


@pytest.fixture
def servers(monkeypatch):
    monkeypatch.setenv("ALPACA_API_KEY", KEY)
    monkeypatch.setenv("ALPACA_SECRET_KEY", SECRET)
    with FakeAlpacaServer(api_key=KEY, secret_key=SECRET, prices=prices()) as alpha, \
            FakeAlpacaServer(api_key=KEY, secret_key=SECRET, prices=prices()) as beta:
        monkeypatch.setenv("ALPACA_URL_ALPHA", alpha.url)
        monkeypatch.setenv("ALPACA_URL_BETA", beta.url)
        yield {"alpha": alpha, "beta": beta}


def run(url: str, selection=None, raise_on_error: bool = True):
    resources = build_resources(warehouse_url=url, broker="alpaca")
    # a new resource, not model_copy(update=...): Dagster rebuilds a resource from its config when the run starts,
    # which drops a model_copy update (the runs then waited 1, 2, 4 s between broker retries)
    resources["broker"] = AlpacaBroker(url_override=resources["broker"].url_override, backoff_s=0.0)
    return dg.materialize([*DAILY_ASSETS, orders_answered, ledgers_hold], resources=resources, partition_key=D1,
                          selection=selection, instance=dg.DagsterInstance.ephemeral(),
                          raise_on_error=raise_on_error)


def books_agree(name: str, wh: Warehouse, servers: dict[str, FakeAlpacaServer]) -> dict[str, int]:
    """Assert the invariant for every account and print its counts; returns orders at the broker per account."""
    orders = wh.read("orders", where={"session_date": SESSION})
    pos = wh.read("positions", where={"session_date": SESSION})
    out = {}
    for account, server in sorted(servers.items()):
        mine = orders[orders["account_id"] == account]
        answered = mine[[order_repo.answered(r) for r in mine.to_dict("records")]]
        at_broker = {o["client_order_id"]: o for o in server.orders_created}
        print(f"\n{name} [{account}]: faults served {server.faults_served()}, POST attempts "
              f"{server.post_order_attempts}, orders at broker {len(at_broker)}, orders recorded {len(answered)}, "
              f"unique client ids {len(server.unique_client_ids)}")
        assert len(server.orders_created) == len(server.unique_client_ids) == len(answered)
        assert set(answered["client_order_id"]) == set(at_broker)
        for r in answered.to_dict("records"):
            assert r["broker_order_id"] == at_broker[r["client_order_id"]]["id"]
            assert r["status"] == at_broker[r["client_order_id"]]["status"]
        mine_pos = pos[pos["account_id"] == account]
        for t in ("SPY", "TLT"):
            assert mine_pos.loc[mine_pos["ticker"] == t, "qty"].sum() == pytest.approx(server.position(t), rel=1e-9,
                                                                                        abs=1e-9)
        out[account] = len(at_broker)
    return out


def account_rows(wh: Warehouse, account: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An account's order and position rows without the broker's random ids and timestamps."""
    o = wh.read("orders", where={"account_id": account})[ORDER_COLUMNS].sort_values("client_order_id")
    p = wh.read("positions", where={"account_id": account})[["symphony_id", "ticker", "qty", "price"]]
    return o.reset_index(drop=True), p.sort_values(["symphony_id", "ticker"]).reset_index(drop=True)


@pytest.mark.slow
def test_429_and_504_on_lookups_submissions_and_reconciliation_reads(tmp_path, servers):
    url, wh = make_world(tmp_path)
    alpha, beta = servers["alpha"], servers["beta"]
    alpha.inject("GET", "/v2/orders:by_client_order_id", "429", times=2)   # the look-up before a retry
    alpha.inject("POST", "/v2/orders", "504_after")                         # accepted, answer lost
    alpha.inject("GET", "/v2/account", "504_before")                        # reconciliation reads
    alpha.inject("GET", "/v2/positions", "429")
    beta.inject("POST", "/v2/orders", "504_before")                         # not accepted: retried ...
    beta.inject("GET", "/v2/orders:by_client_order_id", "504_before")       # ... after a look-up that fails once
    beta.inject("GET", "/v2/positions", "504_before")
    result = run(url)
    assert result.success
    assert (alpha.faults_served(), beta.faults_served()) == (5, 3)         # every scripted fault was met
    # claimed orders go out without a look-up first; only the retried one was looked up (failed look-up + retry)
    assert beta.count("GET", "/v2/orders:by_client_order_id") == 2
    assert alpha.count("GET", "/v2/orders:by_client_order_id") == 3        # 429, 429, then found: not resent
    assert books_agree("429/504 on look-ups, POST and reconciliation", wh, servers) == {"alpha": 2, "beta": 2}
    meta = result.asset_materializations_for_node("positions")[0].metadata
    assert meta["reconciliation"].value == "ledgers match the broker"       # one 504 no longer costs the NAV
    assert len(wh.read("daily_nav", where={"session_date": SESSION})) == 3
    assert set(wh.read("orders")["status"]) == {"filled"}
    posts = alpha.post_order_attempts + beta.post_order_attempts
    assert run(url).success                                                 # a re-run sends nothing
    assert alpha.post_order_attempts + beta.post_order_attempts == posts
    books_agree("re-run", wh, servers)
    wh.dispose()


@pytest.mark.slow
def test_late_fill_refresh_and_reconciliation_survive_transient_faults(tmp_path, servers):
    url, wh = make_world(tmp_path)
    for s in servers.values():
        s.fill_mode = "pending"
    assert run(url).success
    assert set(wh.read("orders")["status"]) == {"accepted"}
    for s in servers.values():
        assert s.fill_pending() == 2
    alpha = servers["alpha"]
    alpha.inject("GET", "/v2/orders:by_client_order_id", "504_before", times=2)   # the refresh of open orders
    alpha.inject("GET", "/v2/account", "429")
    again = run(url, selection=[positions, daily_nav])
    assert again.success
    assert alpha.faults_served() == 3
    assert set(wh.read("orders")["status"]) == {"filled"}
    books_agree("late fills under 504/429", wh, servers)
    assert again.asset_materializations_for_node("positions")[0].metadata["reconciliation"].value == \
        "ledgers match the broker"
    fills = wh.read("fills", where={"session_date": SESSION})
    assert len(fills) == 4 and fills["client_order_id"].nunique() == 4
    wh.dispose()


@pytest.mark.slow
def test_kill_between_broker_acceptance_and_record_then_rerun(tmp_path, servers, monkeypatch):
    url, wh = make_world(tmp_path)
    real = order_repo.record
    killed = []

    def dying_record(wh_, row, **kw):     # the process dies after the broker accepted, before the record step
        if kw.get("broker_order_id") and not killed:
            killed.append(row["client_order_id"])
            raise SystemError("killed between submission and record")
        return real(wh_, row, **kw)

    monkeypatch.setattr(order_repo, "record", dying_record)
    assert not run(url, raise_on_error=False).success
    alpha, beta = servers["alpha"], servers["beta"]
    assert len(alpha.orders_created) == 1 and len(beta.orders_created) == 0
    assert set(wh.read("orders")["status"]) == {"planned"}                 # the accepted order is unrecorded
    monkeypatch.setattr(order_repo, "record", real)
    assert run(url).success
    assert books_agree("kill after acceptance, then re-run", wh, servers) == {"alpha": 2, "beta": 2}
    assert alpha.count("POST", "/v2/orders") == 2                           # the killed order was found, not resent
    recorded = wh.read("orders").set_index("client_order_id")
    assert recorded.loc[killed[0], "broker_order_id"] == alpha.orders_created[0]["id"]
    wh.dispose()


@pytest.mark.slow
def test_one_account_down_while_another_trades(tmp_path, servers):
    url, wh = make_world(tmp_path)
    alpha, beta = servers["alpha"], servers["beta"]
    beta.down = True                                   # every call 503
    result = run(url)
    assert result.success                              # the healthy account's day completes
    assert books_agree("beta down, alpha trades", wh, servers) == {"alpha": 2, "beta": 0}
    beta_orders = wh.read("orders", where={"account_id": "beta"})
    assert len(beta_orders) == 2 and set(beta_orders["status"]) == {"failed"}
    assert all("account beta: broker failed" in r and "503" in r for r in beta_orders["reason"])
    beta_pos = wh.read("positions", where={"account_id": "beta"})
    assert list(beta_pos["ticker"]) == ["$USD"] and beta_pos["qty"].iloc[0] == pytest.approx(10_000.0)
    meta = result.asset_materializations_for_node("submitted_orders")[0].metadata
    assert meta["failed_accounts"].value == "beta" and meta["failed"].value == 2
    check = next(c for c in result.get_asset_check_evaluations() if c.check_name == "orders_answered")
    assert check.passed is False and "beta" in check.metadata["reasons"].value
    assert "beta: broker positions not read" in \
        result.asset_materializations_for_node("positions")[0].metadata["reconciliation"].value

    # alpha's rows equal those of a run in which beta does not exist
    ref_dir = tmp_path / "alone"
    ref_dir.mkdir()
    ref_url, ref_wh = make_world(ref_dir, accounts=("alpha",))
    with FakeAlpacaServer(api_key=KEY, secret_key=SECRET, prices=prices()) as alone:
        import os
        os.environ["ALPACA_URL_ALPHA"] = alone.url     # restored by monkeypatch at teardown
        assert run(ref_url).success
    os.environ["ALPACA_URL_ALPHA"] = alpha.url
    got, want = account_rows(wh, "alpha"), account_rows(ref_wh, "alpha")
    pd.testing.assert_frame_equal(got[0], want[0])
    pd.testing.assert_frame_equal(got[1], want[1])

    beta.down = False                                  # the broker is back: a re-run trades beta exactly once
    before = alpha.post_order_attempts
    assert run(url).success
    assert alpha.post_order_attempts == before
    assert books_agree("beta back, re-run", wh, servers) == {"alpha": 2, "beta": 2}
    assert set(wh.read("orders")["status"]) == {"filled"}
    ref_wh.dispose()
    wh.dispose()
