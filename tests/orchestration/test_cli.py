"""The oragami command line: validate, backtest, run-daily."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from orchestration.cli import main

ROOT = Path(__file__).resolve().parents[2]
SECTOR = ROOT / "symphonies" / "sector_surfing_rsi_bottom2.clj"


def test_validate_ok(capsys):
    assert main(["validate", str(SECTOR)]) == 0
    out = capsys.readouterr().out
    assert "ok" in out and "Sector Surfing" in out and "VNQ" in out


def test_validate_malformed_node_names_file_and_path(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"step": "root", "name": "x", "rebalance": "daily", "children": [
        {"step": "wt-cash-equal", "children": [
            {"step": "asset", "ticker": "SPY"},
            {"step": "wt-cash-banana", "children": []}]}]}))
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.json" in err and "root/0/1" in err and "step" in err and "wt-cash-banana" in err


def test_validate_unknown_function_is_named(tmp_path, capsys):
    bad = tmp_path / "fn.clj"
    bad.write_text('(defsymphony "x" {:rebalance-frequency :daily} (weight-equal [(if (> (rsy "SPY" {:window 10}) 70)'
                   ' [(asset "SPY")] [(asset "BIL")])]))')
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "fn.clj" in err and "rsy" in err


def test_backtest_prints_stats_and_writes_csv(tmp_path, capsys):
    rc = main(["backtest", str(SECTOR), "--start", "2024-01-02", "--end", "2024-06-21", "--capital", "5000",
               "--slippage-bps", "2", "--out", str(tmp_path)])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["first_day"] == "2024-01-02" and out["last_day"] == "2024-06-21"
    assert out["capital"] == 5000 and out["slippage_bps"] == 2
    # Composer's stats keys (composer_format.md §6), fractions
    st = out["stats"]
    assert set(st) >= {"cumulative_return", "annualized_rate_of_return", "sharpe_ratio", "max_drawdown",
                       "calmar_ratio", "standard_deviation", "sortino_ratio", "win_rate"}
    assert st["cumulative_return"] == pytest.approx(out["final_value"] / 5000 - 1, abs=1e-6)
    # Composer's annualisation: the exponent counts size + 1 values (composer_format.md §6)
    assert st["annualized_rate_of_return"] == pytest.approx(
        (1 + st["cumulative_return"]) ** (252 / (st["size"] + 1)) - 1, abs=1e-5)
    assert set(out["costs"]) == {"slippage", "reg_fee", "taf_fee", "cat_fee"} and out["costs"]["slippage"] > 0
    assert out["data_warnings"] == {}
    daily = pd.read_csv(tmp_path / "daily_values.csv")
    weights = pd.read_csv(tmp_path / "weights.csv")
    assert list(weights.columns) == ["date", "ticker", "weight"]
    assert daily["value"].iloc[-1] == pytest.approx(out["final_value"], abs=0.01)
    # bottom-2 filter: two tickers at 50 % each every day
    per_day = weights.groupby("date")["weight"]
    assert (per_day.count() == 2).all() and per_day.sum().round(12).eq(1.0).all()
    # holdings.csv: day-end weights, one row per session, $USD then tickers, rows sum to 1; a daily rebalance
    # ends every session exactly at its 50/50 target (fees come out of the bought legs only by a hair)
    hold = pd.read_csv(tmp_path / "holdings.csv")
    assert list(hold.columns[:2]) == ["date", "$USD"] and len(hold) == len(daily)
    assert hold.drop(columns="date").sum(axis=1).round(9).eq(1.0).all()
    first = weights[weights["date"] == weights["date"].iloc[0]]
    for t in first["ticker"]:
        assert hold[t].iloc[0] == pytest.approx(0.5, abs=1e-6)
    # rebalances.csv: every session traded (daily), the first as "initial"; its fees add up to the costs
    reb = pd.read_csv(tmp_path / "rebalances.csv")
    assert list(reb.columns) == ["date", "reason", "turnover", "slippage_usd", "reg_fee_usd", "taf_fee_usd",
                                 "cat_fee_usd", "holdings"]
    assert reb["reason"].tolist() == ["initial"] + ["calendar"] * (len(daily) - 1)
    assert reb["reg_fee_usd"].sum() == pytest.approx(out["costs"]["reg_fee"], abs=0.01)
    assert reb["slippage_usd"].sum() == pytest.approx(out["costs"]["slippage"], abs=0.01)


def test_parity_prints_every_ground_truth(capsys):
    assert main(["parity"]) == 0
    out = capsys.readouterr().out
    assert "## D: SPY only, monthly" in out and "## E:" in out and "## A:" in out
    assert "| Composer's annualized from its own cum and size | 0.1082602915 | 0.1082602915 | +0 |" in out
    assert out.strip().splitlines()[-1].startswith("73/73 checks within tolerance")


def test_run_daily_rejects_a_holiday(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ORAGAMI_DUCKDB_PATH", str(tmp_path / "w.duckdb"))
    monkeypatch.delenv("ORAGAMI_WAREHOUSE_URL", raising=False)
    assert main(["run-daily", "--session", "2024-12-25"]) == 2
    assert "not an NYSE session" in capsys.readouterr().err


def test_explain_shows_the_path_taken(capsys):
    tqqq = ROOT / "symphonies" / "tqqq_ftlt_v2_226.clj"
    assert main(["explain", str(tqqq), "--date", "2022-05-09"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # SPY 375.8 below its 200-day average 420.4 → else; TQQQ RSI(10) 29.85 < 31 → TECL
    assert "root/0/0 if: current-price(SPY)=375.8 > moving-average-price(SPY, 200d)=420.4 -> else" in lines[1]
    assert "relative-strength-index(TQQQ, 10d)=29.85 < 31 -> then" in lines[2]
    assert lines[-1] == "target weights: TECL 100.00%"
    assert main(["explain", str(tqqq), "--date", "2022-05-09", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["weights"] == {"TECL": 1.0}
    assert [e["detail"]["branch"] for e in data["trace"]] == ["else", "then"]
    assert main(["explain", str(tqqq), "--date", "2022-05-08"]) == 2  # a Sunday
    assert "not a session" in capsys.readouterr().err


def test_export_round_trips_through_the_cli(tmp_path, capsys):
    out = tmp_path / "sector.json"
    assert main(["export", str(SECTOR), "--out", str(out)]) == 0
    from engine.parsing import load_symphony

    again = load_symphony(out)
    original = load_symphony(SECTOR)
    assert again.children[0].children[0].sort_fn == "relative-strength-index"
    assert [a.ticker for a in again.children[0].children[0].children] == ["SPY", "VEA", "EEM", "TLT", "GLD", "VNQ"]
    # defsymphony has no ids: the export fills them deterministically, everything else is equal
    from engine.export import assign_ids

    assert again.model_dump() == assign_ids(original).model_dump()
    assert json.loads(out.read_text())["step"] == "root"


def test_backtest_holding_a_stale_ticker_fails_unless_allowed(tmp_path, capsys):
    """A series that stops early (STOP's last close 2024-01-19) while the symphony holds it: exit 2 naming the
    ticker and the sessions; with --allow-missing-prices the run goes on and lists them in data_warnings."""
    days = pd.bdate_range("2024-01-02", "2024-01-31")
    days = days[days != pd.Timestamp("2024-01-15")]                  # Martin Luther King Jr. Day
    prices = tmp_path / "prices"
    prices.mkdir()
    pd.DataFrame({"date": days.date, "adj_close": np.linspace(470, 490, len(days))}).to_csv(prices / "SPY.csv",
                                                                                          index=False)
    early = days[days <= pd.Timestamp("2024-01-19")]
    pd.DataFrame({"date": early.date, "adj_close": np.linspace(20, 22, len(early))}).to_csv(prices / "STOP.csv",
                                                                                          index=False)
    sym = tmp_path / "stale.clj"
    sym.write_text('(defsymphony "stale" {:asset-class "EQUITIES", :rebalance-frequency :daily} '
                   '(weight-equal [(asset "SPY") (asset "STOP")]))')
    assert main(["backtest", str(sym), "--prices", str(prices)]) == 2
    err = capsys.readouterr().err
    assert "holds tickers on sessions without a close price: STOP on 2024-01-22..2024-01-31 (8 sessions)" in err
    assert main(["backtest", str(sym), "--prices", str(prices), "--allow-missing-prices"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["data_warnings"] == {"STOP": ["Close price data is missing for STOP on 2024-01-22..2024-01-31 "
                                             "(8 sessions) while held (last close carried forward)"]}
    assert out["last_day"] == "2024-01-31"
