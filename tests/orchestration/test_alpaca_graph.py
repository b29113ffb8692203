"""The daily graph trading Alpaca paper through the real alpaca-py client, against the local fake server."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest

from assets.daily import DAILY_ASSETS
from orchestration.cli import main, seed_symphonies
from orchestration.definitions import build_resources
from resources import AlpacaBroker
from tests.fakes.alpaca_server import FakeAlpacaServer
from warehouse import Warehouse
from warehouse.bundled import load_adjusted_closes

D1 = "2024-06-21"
KEY, SECRET = "fake-key-id", "fake-secret-key"


def prices_on(day: str, tickers=("SPY", "TLT")) -> dict[str, float]:
    row = load_adjusted_closes(list(tickers), end=day).iloc[-1]
    return {t: float(v) for t, v in row.items()}


def seed(wh: Warehouse, tmp_path: Path):
    a = tmp_path / "all_spy.clj"
    a.write_text('(defsymphony "all spy" {:rebalance-frequency :daily} (weight-equal [(asset "SPY")]))')
    b = tmp_path / "spy_tlt.clj"
    b.write_text('(defsymphony "spy tlt" {:rebalance-frequency :daily} (weight-equal [(asset "SPY") (asset "TLT")]))')
    seed_symphonies(wh, [a, b], "acct")


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("ALPACA_API_KEY", KEY)
    monkeypatch.setenv("ALPACA_SECRET_KEY", SECRET)


def materialize(url: str, server: FakeAlpacaServer, raise_on_error=True):
    resources = build_resources(warehouse_url=url, broker="alpaca", alpaca_url=server.url)
    # a new resource, not model_copy(update=...): Dagster rebuilds a resource from its config when the run starts,
    # which drops a model_copy update (the runs then waited 1, 2, 4 s between broker retries)
    resources["broker"] = AlpacaBroker(url_override=resources["broker"].url_override, backoff_s=0.0)
    return dg.materialize([*DAILY_ASSETS], resources=resources, partition_key=D1,
                          instance=dg.DagsterInstance.ephemeral(), raise_on_error=raise_on_error)


def report(name, server, wh):
    orders = wh.read("orders")
    line = (f"{name}: POST attempts {server.post_order_attempts}, orders created {len(server.orders_created)}, "
            f"unique client ids {len(server.unique_client_ids)}, orders recorded {len(orders)}")
    print("\n" + line)
    assert len(server.orders_created) == len(server.unique_client_ids)
    return orders


@pytest.mark.slow
def test_netted_session_504_after_accept_and_reconciliation(tmp_path, env):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    wh = Warehouse(url)
    wh.create_schema()
    seed(wh, tmp_path)
    with FakeAlpacaServer(api_key=KEY, secret_key=SECRET, prices=prices_on(D1)) as server:
        server.inject("POST", "/v2/orders", "504_after", times=1)    # the first order is accepted, answer lost
        result = materialize(url, server)
        assert result.success
        orders = report("netted session, 504 after accept", server, wh)
        # two symphonies, two tickers → one netted order per ticker; no duplicate despite the lost answer
        assert sorted(orders["ticker"]) == ["SPY", "TLT"] and set(orders["status"]) == {"filled"}
        assert len(server.orders_created) == 2
        pos = wh.read("positions", where={"session_date": dt.date.fromisoformat(D1)})
        for t in ("SPY", "TLT"):
            assert pos.loc[pos["ticker"] == t, "qty"].sum() == pytest.approx(server.position(t), rel=1e-9)
        meta = result.asset_materializations_for_node("positions")[0].metadata
        assert meta["reconciliation"].value == "ledgers match the broker"
        # a second run of the completed session sends nothing
        before = server.post_order_attempts
        assert materialize(url, server).success
        assert server.post_order_attempts == before and len(server.orders_created) == 2
    wh.dispose()


@pytest.mark.slow
def test_partial_fill_is_attributed_and_rejection_recorded(tmp_path, env):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    wh = Warehouse(url)
    wh.create_schema()
    seed(wh, tmp_path)
    with FakeAlpacaServer(api_key=KEY, secret_key=SECRET, prices=prices_on(D1), cash=12_000.0,
                          fill_mode="partial", partial_fraction=0.5) as server:
        server.fill_modes["TLT"] = "fill"
        assert materialize(url, server).success
        orders = report("partial fill + insufficient buying power", server, wh).set_index("ticker")
        # SPY (15,000 wanted) exceeds the 12,000 buying power → rejected with Alpaca's reason; TLT (5,000) fills
        assert orders.loc["SPY", "status"] == "rejected"
        assert "insufficient buying power" in orders.loc["SPY", "reason"]
        assert orders.loc["TLT", "status"] == "filled"
        pos = wh.read("positions")
        assert set(pos.loc[pos["symphony_id"] == "all-spy", "ticker"]) == {"$USD"}
        tlt = pos[(pos["symphony_id"] == "spy-tlt") & (pos["ticker"] == "TLT")]
        assert tlt["qty"].iloc[0] == pytest.approx(server.position("TLT"), rel=1e-9)
    wh.dispose()


@pytest.mark.slow
def test_partial_fill_splits_pro_rata(tmp_path, env):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    wh = Warehouse(url)
    wh.create_schema()
    seed(wh, tmp_path)
    with FakeAlpacaServer(api_key=KEY, secret_key=SECRET, prices=prices_on(D1), fill_mode="partial",
                          partial_fraction=0.5) as server:
        assert materialize(url, server).success
        report("partial fills", server, wh)
        orders = wh.read("orders").set_index("ticker")
        assert orders.loc["SPY", "status"] == "partially_filled"
        pos = wh.read("positions")
        spy = pos[pos["ticker"] == "SPY"].set_index("symphony_id")["qty"]
        # SPY intents 10,000 vs 5,000 USD → the half-filled order is shared 2:1
        assert spy["all-spy"] / spy["spy-tlt"] == pytest.approx(2.0, rel=1e-9)
        assert spy.sum() == pytest.approx(server.position("SPY"), rel=1e-9)
    wh.dispose()


@pytest.mark.slow
def test_cli_run_daily_against_the_fake(tmp_path, env, monkeypatch, capsys):
    db = tmp_path / "cli.duckdb"
    monkeypatch.setenv("ORAGAMI_DUCKDB_PATH", str(db))
    monkeypatch.delenv("ORAGAMI_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    wh = Warehouse(f"duckdb:///{db}")
    wh.create_schema()
    seed(wh, tmp_path)
    wh.dispose()
    with FakeAlpacaServer(api_key=KEY, secret_key=SECRET, prices=prices_on(D1)) as server:
        assert main(["run-daily", "--session", D1, "--broker", "alpaca", "--alpaca-url", server.url]) == 0
        assert "success" in capsys.readouterr().out
        assert len(server.orders_created) == 2
    capsys.readouterr()
    assert main(["run-daily", "--session", D1, "--broker", "alpaca", "--alpaca-url",
                 "https://api.alpaca.markets"]) == 2     # the live endpoint is refused before the run: nothing sent
    assert "refusing Alpaca endpoint" in capsys.readouterr().err


@pytest.mark.slow
def test_calendar_disagreement_with_the_broker_is_recorded(tmp_path, env):
    from assets.daily import DAILY_CHECKS

    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    wh = Warehouse(url)
    wh.create_schema()
    seed(wh, tmp_path)
    with FakeAlpacaServer(api_key=KEY, secret_key=SECRET, prices=prices_on(D1)) as server:
        server.early_closes[dt.date.fromisoformat(D1)] = "13:00"      # the broker claims a half day
        resources = build_resources(warehouse_url=url, broker="alpaca", alpaca_url=server.url)
        result = dg.materialize([*DAILY_ASSETS, *DAILY_CHECKS], resources=resources, partition_key=D1,
                                instance=dg.DagsterInstance.ephemeral())
        assert result.success                        # a WARN, not a stop
        check = next(c for c in result.get_asset_check_evaluations() if c.check_name == "calendar_matches_broker")
        assert check.passed is False
        assert check.metadata["disagreement"].value == "close differs: broker 13:00, exchange_calendars 16:00 (New York)"
    wh.dispose()


@pytest.mark.slow
def test_late_fills_are_picked_up_when_positions_are_refreshed(tmp_path, env):
    """Orders accepted but not yet filled at 15:50: the ledgers hold cash; after the broker fills them,
    re-materialising positions (and NAV) refreshes the orders from the broker and attributes the fills."""
    from assets.daily import daily_nav, positions

    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    wh = Warehouse(url)
    wh.create_schema()
    seed(wh, tmp_path)
    with FakeAlpacaServer(api_key=KEY, secret_key=SECRET, prices=prices_on(D1), fill_mode="pending") as server:
        assert materialize(url, server).success
        orders = wh.read("orders")
        assert set(orders["status"]) == {"accepted"}
        assert set(wh.read("positions")["ticker"]) == {"$USD"}           # nothing filled yet
        assert server.fill_pending() == 2
        resources = build_resources(warehouse_url=url, broker="alpaca", alpaca_url=server.url)
        again = dg.materialize([*DAILY_ASSETS], selection=[positions, daily_nav], resources=resources,
                               partition_key=D1, instance=dg.DagsterInstance.ephemeral())
        assert again.success
        assert set(wh.read("orders")["status"]) == {"filled"}
        pos = wh.read("positions")
        for t in ("SPY", "TLT"):
            assert pos.loc[pos["ticker"] == t, "qty"].sum() == pytest.approx(server.position(t), rel=1e-9)
        meta = again.asset_materializations_for_node("positions")[0].metadata
        assert meta["reconciliation"].value == "ledgers match the broker"
        assert len(server.orders_created) == len(server.unique_client_ids) == 2
    wh.dispose()
