"""``oragami data coverage|check`` and ``--prices`` on backtest/explain, on directories the tests write themselves."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestration.cli import main

ROOT = Path(__file__).resolve().parents[2]
PROBE = ROOT / "symphonies" / "spy_buy_hold_monthly_probe.json"  # SPY 100 %, monthly rebalance
RSI = ROOT / "symphonies" / "editor_relative_strength_index.json"  # RSI(SPY) switch between SPY and BIL

DATES = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09"]


@pytest.fixture
def prices(tmp_path) -> Path:
    """SPY on six sessions: 100, 102, 101, 105, 104, 110 (USD)."""
    d = tmp_path / "prices"
    d.mkdir()
    (d / "SPY.csv").write_text("date,adj_close\n" + "".join(
        f"{day},{p}\n" for day, p in zip(DATES, [100, 102, 101, 105, 104, 110])))
    return d


def test_backtest_on_your_own_directory(prices, capsys):
    rc = main(["backtest", str(PROBE), "--prices", str(prices), "--slippage-bps", "0", "--no-reg-fee",
               "--no-taf-fee", "--capital", "10000"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["first_day"] == "2024-01-02" and out["last_day"] == "2024-01-09"
    # bought at the first close and held, no costs: 10,000 × 110 / 100
    assert out["final_value"] == pytest.approx(11_000.0, abs=0.01)


def test_backtest_names_a_ticker_the_directory_lacks(prices, capsys):
    assert main(["backtest", str(RSI), "--prices", str(prices)]) == 2
    assert f"tickers not in the {prices} data: BIL" in capsys.readouterr().err


def test_explain_reads_the_chosen_prices(prices, capsys):
    assert main(["explain", str(PROBE), "--date", "2024-01-08", "--prices", str(prices), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["weights"] == {"SPY": 1.0}
    assert main(["explain", str(PROBE), "--date", "2024-01-06", "--prices", str(prices)]) == 2
    assert f"2024-01-06 is not a session of the {prices} data" in capsys.readouterr().err


def test_coverage_lists_first_last_rows_gaps_and_source(prices, capsys):
    (prices / "QQQ.csv").write_text("date,adj_close\n2024-01-02,400\n2024-01-05,404\n")  # misses 01-03, 01-04
    assert main(["data", "coverage", "--prices", str(prices)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["QQQ", "2024-01-02", "2024-01-05", "2", "2", str(prices)]
    assert lines[2].split() == ["SPY", "2024-01-02", "2024-01-09", "6", "0", str(prices)]
    assert lines[3] == f"2 tickers from {prices}, last session 2024-01-09"


def test_coverage_of_bundled_tickers_and_an_unknown_one(capsys):
    assert main(["data", "coverage", "BTAL", "NOPE"]) == 2
    cap = capsys.readouterr()
    assert cap.out.splitlines()[1].split()[:5] == ["BTAL", "2011-09-13", "2026-07-31", "3741", "1"]
    assert "NOPE: not in the bundled data" in cap.err


def test_check_exit_codes(prices, capsys):
    assert main(["data", "check", "--prices", str(prices)]) == 0  # clean
    assert capsys.readouterr().out.startswith(f"{prices}: 1 tickers checked, last session 2024-01-09: 0 stale")
    (prices / "JUMP.csv").write_text("date,adj_close\n2024-01-02,10\n2024-01-03,10\n2024-01-05,1\n")
    assert main(["data", "check", "--prices", str(prices)]) == 1  # findings
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{prices}: 2 tickers checked, last session 2024-01-09: 1 stale, 1 gap, 0 non_positive, 1 jump"
    assert out[1].split()[:3] == ["stale", "JUMP", "2024-01-05"]
    assert out[2].split() == ["gap", "JUMP", "2024-01-04", "no", "bar", "on", "2024-01-04"]
    assert out[3].startswith("jump         JUMP   2024-01-05  -90.0% from 2024-01-03 (bound ±60% for 1×), like an")
    assert main(["data", "check", "--prices", str(prices), "--kind", "splits"]) == 2  # usage errors
    assert main(["data", "check", "--prices", str(prices / "nowhere")]) == 2
    assert main(["data", "check", "NOPE", "--prices", str(prices)]) == 2
    (prices / "BAD.csv").write_text("date,adj_close\n2024-01-02,x\n")
    assert main(["data", "check", "--prices", str(prices)]) == 2
    assert f"{prices / 'BAD.csv'}: line 2: column 'adj_close': non-numeric value 'x'" in capsys.readouterr().err


def test_check_on_the_bundle_names_stale_series(capsys):
    assert main(["data", "check", "YINN", "SPY", "--kind", "stale"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "bundled: 2 tickers checked, last session 2026-07-31: 1 stale"
    assert out[1].split()[:3] == ["stale", "YINN", "2026-07-13"]
