"""indicator_values keys on the indicator's params (issue 8): two PPO settings on one ticker are two rows, and a
warehouse created before the ``params`` column existed is rebuilt for that one derived table."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd

from engine.model import IndicatorRef
from warehouse import Warehouse

DAY = dt.date(2022, 1, 3)
PPO_12_26 = IndicatorRef(fn="percentage-price-oscillator", ticker="SPY",
                         params=(("long-window", 26), ("short-window", 12)))
PPO_5_35 = IndicatorRef(fn="percentage-price-oscillator", ticker="SPY",
                        params=(("long-window", 35), ("short-window", 5)))


def _rows() -> pd.DataFrame:
    return pd.DataFrame({"session_date": DAY, "ticker": "SPY", "fn": "percentage-price-oscillator", "window": 0,
                         "params": [PPO_12_26.params_key, PPO_5_35.params_key], "value": [1.25, -0.5]})


def test_params_key_is_canonical_json() -> None:
    assert PPO_12_26.params_key == '{"long-window":26,"short-window":12}'
    assert IndicatorRef(fn="relative-strength-index", ticker="SPY", window=10).params_key == ""
    assert PPO_12_26.key != PPO_5_35.key


def test_two_ppo_settings_on_one_ticker_are_two_rows(wh: Warehouse) -> None:
    wh.replace("indicator_values", _rows(), {"session_date": DAY})
    wh.replace("indicator_values", _rows(), {"session_date": DAY})  # idempotent
    got = wh.read("indicator_values").sort_values("value")
    assert got["params"].tolist() == ['{"long-window":35,"short-window":5}', '{"long-window":26,"short-window":12}']
    assert got["value"].tolist() == [-0.5, 1.25]


def test_rows_without_params_default_to_empty(wh: Warehouse) -> None:
    rows = pd.DataFrame({"session_date": DAY, "ticker": "SPY", "fn": ["relative-strength-index"], "window": [10],
                         "value": [55.0]})
    wh.replace("indicator_values", rows, {"session_date": DAY})
    assert wh.read("indicator_values")["params"].tolist() == [""]


def test_old_primary_key_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute('CREATE TABLE indicator_values (session_date DATE, ticker TEXT, fn TEXT, "window" INTEGER, '
                'value DOUBLE, PRIMARY KEY (session_date, ticker, fn, "window"))')
    con.execute("INSERT INTO indicator_values VALUES ('2022-01-03', 'SPY', 'percentage-price-oscillator', 0, 1.0)")
    con.close()
    wh = Warehouse(f"duckdb:///{path}")
    wh.create_schema()
    wh.create_schema()  # idempotent: the rebuilt table is kept
    wh.replace("indicator_values", _rows(), {"session_date": DAY})
    assert sorted(wh.read("indicator_values")["value"].tolist()) == [-0.5, 1.25]
