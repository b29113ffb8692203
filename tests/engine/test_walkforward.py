"""Walk-forward golden test on a two-parameter toy symphony whose best parameters per window are known by
construction, plus the window arithmetic, the objectives and the parameter setters."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from engine.model import Asset, Comparison, Constant, If, IndicatorRef, Root, WeightEqual, iter_nodes
from engine.parsing import load_symphony
from engine.walkforward import (ParamAxis, full_sample_objectives, get_node_param, grid_configs, objective_values,
                                run_grid, set_node_param, walk_forward, wf_windows)
from tests.orchestration.test_research import ROOT

SIGMA = 0.01
REGIME = 60
#: Mean daily return of each asset in each of the four regimes of 60 sessions (rows of the returns matrix).
MU = {"AAA": (0.002, 0.0, 0.001, 0.0), "BBB": (0.0, 0.0025, 0.0, 0.001),
      "CCC": (0.0, 0.0015, 0.002, 0.0), "DDD": (0.001, 0.0, 0.0, 0.002)}
NO_COSTS = {"capital": 10_000.0, "slippage_bps": 0.0, "apply_reg_fee": False, "apply_taf_fee": False,
            "apply_cat_fee": False, "benchmark": None}


def _if(path: str, then: str, other: str) -> If:
    cond = Comparison(lhs=IndicatorRef(fn="current-price", ticker="SIG"), comparator="gt", rhs=Constant(value=50.0))
    return If(path=path, condition=cond, then_children=(Asset(path=f"{path}/0", ticker=then),),
              else_children=(Asset(path=f"{path}/1", ticker=other),))


def toy() -> tuple[Root, pd.DataFrame, pd.DataFrame]:
    """Half in (AAA if SIG > t1 else BBB), half in (CCC if SIG > t2 else DDD), SIG constant at 50, daily rebalance.

    Every asset's daily return on row t ≥ 1 is ``MU[asset][regime] + SIGMA·(−1)^t`` (the same ±1 % swing for all,
    in phase), so a configuration's daily return is ``½(μ_X + μ_Y) + SIGMA·(−1)^t``: its Sharpe over a regime
    ranks by ``μ_X + μ_Y``, and t1 = 40 (AAA) / 60 (BBB) and t2 = 40 (CCC) / 60 (DDD) can be chosen separately.
    Row 0 (the first backtest day) has return 0 (no costs).
    """
    root = Root(name="toy", rebalance="daily",
                children=(WeightEqual(path="root/0", children=(_if("root/0/0", "AAA", "BBB"),
                                                               _if("root/0/1", "CCC", "DDD"))),))
    n = 4 * REGIME
    sessions = pd.bdate_range("2020-01-01", periods=n)
    rets = {}
    for t, mus in MU.items():
        r = np.array([mus[i // REGIME] + SIGMA * (-1) ** i for i in range(n)])
        r[0] = 0.0
        rets[t] = r
    rets = pd.DataFrame(rets, index=sessions)
    closes = 100.0 * (1.0 + rets).cumprod()
    closes["SIG"] = 50.0
    return root, closes, rets


AXES = [ParamAxis("root/0/0", "threshold", (40.0, 60.0)), ParamAxis("root/0/1", "threshold", (40.0, 60.0))]


@pytest.fixture(scope="module")
def grid():
    root, closes, _ = toy()
    return run_grid(root, closes, AXES, backtest=NO_COSTS)


def test_toy_grid_returns_are_the_half_half_mixes(grid):
    _, _, rets = toy()
    assert grid.configs["label"].tolist() == [
        "root/0/0.threshold=40, root/0/1.threshold=40", "root/0/0.threshold=40, root/0/1.threshold=60",
        "root/0/0.threshold=60, root/0/1.threshold=40", "root/0/0.threshold=60, root/0/1.threshold=60"]
    assert grid.returns.shape == (240, 4)
    pairs = [("AAA", "CCC"), ("AAA", "DDD"), ("BBB", "CCC"), ("BBB", "DDD")]
    for j, (x, y) in enumerate(pairs):
        # daily rebalanced to 50/50 without costs: exactly the average of the two assets' returns
        np.testing.assert_allclose(grid.returns[j].to_numpy(), 0.5 * (rets[x] + rets[y]).to_numpy(), atol=1e-12)
    assert not grid.changes.to_numpy().any()  # a constant allocation never trades after its first day
    # as written (t1 = t2 = 50): 50 > 50 is false, so BBB and DDD, like t1 = t2 = 60
    np.testing.assert_allclose(grid.original.to_numpy(), grid.returns[3].to_numpy(), atol=1e-12)


def test_rolling_walk_forward_picks_the_known_parameters(grid):
    _, _, rets = toy()
    wf = walk_forward(grid, is_sessions=REGIME, oos_sessions=REGIME, objective="sharpe")
    w = wf.windows
    # regime 0: AAA (0.2 %) beats BBB (0), DDD (0.1 %) beats CCC (0) -> t1 = 40, t2 = 60; regime 1: BBB, CCC;
    # regime 2: AAA, CCC. Each window's choice trades the next regime.
    assert w["root/0/0.threshold"].tolist() == [40.0, 60.0, 40.0]
    assert w["root/0/1.threshold"].tolist() == [60.0, 40.0, 40.0]
    assert w["config_idx"].tolist() == [1, 2, 0]
    assert w["oos_start"].tolist() == [rets.index[60], rets.index[120], rets.index[180]]
    assert w["is_sessions"].tolist() == [60, 60, 60] and w["oos_sessions"].tolist() == [60, 60, 60]
    # stitched OOS: (AAA+DDD)/2 on regime 1, (BBB+CCC)/2 on regime 2, (AAA+CCC)/2 on regime 3
    expect = np.concatenate([0.5 * (rets["AAA"] + rets["DDD"]).to_numpy()[60:120],
                             0.5 * (rets["BBB"] + rets["CCC"]).to_numpy()[120:180],
                             0.5 * (rets["AAA"] + rets["CCC"]).to_numpy()[180:240]])
    np.testing.assert_allclose(wf.oos_returns.to_numpy(), expect, atol=1e-12)
    # regime 1 under (AAA, DDD): mean 0 -> the swing alone: 30 up and 30 down days of 1 %
    assert w["oos_return"].iloc[0] == pytest.approx(1.01 ** 30 * 0.99 ** 30 - 1.0, rel=1e-9)
    assert wf.oos_growth.iloc[-1] == pytest.approx(np.prod(1.0 + expect), rel=1e-12)
    # the IS Sharpe of window 0's choice, by hand: mean and stdev of 0.5*(0.002+0.001) ± 1 % (row 0 = 0)
    r0 = expect_is = 0.5 * (rets["AAA"] + rets["DDD"]).to_numpy()[:60]
    assert w["is_objective"].iloc[0] == pytest.approx(r0.mean() / r0.std(ddof=1) * math.sqrt(252), rel=1e-12)
    assert expect_is.shape == (60,)
    # every value chosen: t1 = 40 twice out of three windows
    f = wf.choice_frequency.set_index(["param", "value"])
    assert f.loc[("root/0/0.threshold", 40.0), "chosen"] == 2
    assert f.loc[("root/0/1.threshold", 60.0), "share"] == pytest.approx(1 / 3)
    # neighbours: window 0's choice (40, 60) against (60, 60) along t1 and (40, 40) along t2
    nb = wf.neighbours[wf.neighbours["window"] == 0].set_index("param")
    iso = wf.is_objective.iloc[0]
    assert nb.loc["root/0/0.threshold", "neighbour_mean"] == pytest.approx(iso[3])
    assert nb.loc["root/0/1.threshold", "neighbour_mean"] == pytest.approx(iso[0])
    assert (nb["drop"] > 0).all()


def test_anchored_walk_forward_picks_the_known_parameters(grid):
    wf = walk_forward(grid, is_sessions=REGIME, oos_sessions=REGIME, anchored=True, objective="annualized_return")
    w = wf.windows
    assert [(a, b) for a, b in zip(w["is_start"], w["is_end"])] == [
        (grid.returns.index[0], grid.returns.index[59]), (grid.returns.index[0], grid.returns.index[119]),
        (grid.returns.index[0], grid.returns.index[179])]
    # sessions 0..119: AAA avg 0.1 % < BBB 0.125 %; CCC 0.075 % > DDD 0.05 % -> (60, 40);
    # sessions 0..179: AAA 0.1 % > BBB 0.083 %; CCC 0.117 % > DDD 0.033 % -> (40, 40)
    assert w["config_idx"].tolist() == [1, 2, 0]


def test_min_trades_rule_leaves_cash(grid):
    wf = walk_forward(grid, is_sessions=REGIME, oos_sessions=REGIME, min_trades=1)
    assert wf.windows["config_idx"].tolist() == [-1, -1, -1]
    assert wf.windows["eligible"].tolist() == [0, 0, 0]
    assert (wf.oos_returns == 0.0).all() and wf.oos_growth.iloc[-1] == 1.0


def test_windows_rolling_and_anchored():
    assert wf_windows(10, 4, 3) == [(0, 4, 4, 7), (3, 7, 7, 10)]
    assert wf_windows(11, 4, 3) == [(0, 4, 4, 7), (3, 7, 7, 10), (6, 10, 10, 11)]
    assert wf_windows(11, 4, 3, anchored=True) == [(0, 4, 4, 7), (0, 7, 7, 10), (0, 10, 10, 11)]
    with pytest.raises(ValueError, match="not enough"):
        wf_windows(4, 4, 1)
    with pytest.raises(ValueError, match="at least 1"):
        wf_windows(10, 4, 0)


def test_objective_values_by_hand():
    r = np.array([[0.10, -0.05], [-0.10, 0.05], [0.20, 0.00]])
    # growth path A: 1, 1.1, 0.99, 1.188; B: 1, 0.95, 0.9975, 0.9975
    ann = objective_values(r, "annualized_return")
    assert ann[0] == pytest.approx(1.188 ** (252 / 4) - 1)
    assert ann[1] == pytest.approx(0.9975 ** (252 / 4) - 1)
    calmar = objective_values(r, "calmar")
    assert calmar[0] == pytest.approx(ann[0] / (1 - 0.99 / 1.1))
    assert calmar[1] == pytest.approx(ann[1] / 0.05)
    sh = objective_values(r, "sharpe")
    assert sh[0] == pytest.approx(np.mean(r[:, 0]) / np.std(r[:, 0], ddof=1) * math.sqrt(252))
    # a stat of Composer's set, lower is better: max drawdown
    mdd = objective_values(r, "max_drawdown")
    assert mdd == pytest.approx([1 - 0.99 / 1.1, 0.05])
    with pytest.raises(ValueError, match="unknown objective 'sharp'"):
        objective_values(r, "sharp")


def test_set_node_param_windows_thresholds_select_n():
    sector = load_symphony(ROOT / "symphonies" / "sector_surfing_rsi_bottom2.clj")
    assert get_node_param(sector, "root/0/0", "select_n") == 2
    three = set_node_param(sector, "root/0/0", "select_n", 3)
    assert get_node_param(three, "root/0/0", "select_n") == 3 and get_node_param(sector, "root/0/0", "select_n") == 2
    tqqq = load_symphony(ROOT / "symphonies" / "tqqq_long_term_original.edn")
    path = "root/0/0/0/0/0"
    assert get_node_param(tqqq, path, "threshold") == 79.0
    t = set_node_param(tqqq, path, "threshold", 75.5)
    assert next(n for n in iter_nodes(t) if n.path == path).condition.rhs.value == 75.5
    with pytest.raises(ValueError, match=r"'threshold' at node 'root/0/0'.*not a constant"):
        set_node_param(tqqq, "root/0/0", "threshold", 5)
    with pytest.raises(ValueError, match=r"select_n 0 at node 'root/0/0'"):
        set_node_param(sector, "root/0/0", "select_n", 0)
    with pytest.raises(ValueError, match=r"window 2.5"):
        set_node_param(sector, "root/0/0", "window", 2.5)
    assert len(grid_configs([ParamAxis("a", "window", (1, 2, 3)), ParamAxis("b", "window", (4, 5))])) == 6
    with pytest.raises(ValueError, match="twice"):
        grid_configs([ParamAxis("a", "window", (1,)), ParamAxis("a", "window", (2,))])


def test_full_sample_objectives(grid):
    fs = full_sample_objectives(grid, "annualized_return")
    g = (1.0 + grid.returns).prod()
    assert fs.to_numpy() == pytest.approx((g ** (252 / 241) - 1.0).to_numpy())
