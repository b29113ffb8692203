"""The whole corpus: every symphony file parses; every one whose tickers are bundled backtests to the last session."""
from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.backtest import run_backtest
from engine.evaluate import IndicatorCache, evaluate
from engine.model import tickers
from engine.parsing import load_symphony
from warehouse.bundled import available_tickers, last_session, load_adjusted_closes

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "symphonies"
NOT_SYMPHONIES = {"spy_avgo_qqq_nvda_inverse_vol.allocations.csv", "SOURCES.md",
                  "fomo_nomo_leveraged.simulated_holdings.txt", "eu_raekon_frankenbot.backtest_response.edn",
                  "eu_raekon_frankenbot.backtest_response.json"}


def corpus() -> list[Path]:
    files = {p.name: p for p in sorted((ROOT / "symphonies").iterdir()) if p.name not in NOT_SYMPHONIES}
    if SHARED.is_dir():
        for p in sorted(SHARED.iterdir()):
            if p.name not in NOT_SYMPHONIES:
                files.setdefault(p.name, p)
    return [p for name, p in sorted(files.items())]


def _load(p: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_symphony(p)


def test_every_symphony_file_parses_and_the_counts():
    files = corpus()
    roots = {p.name: _load(p) for p in files}  # raises on the first file that does not parse
    have = available_tickers()
    missing = {name: sorted(tickers(r) - have) for name, r in roots.items() if not tickers(r) <= have}
    print(f"\n{len(roots)} symphony files parsed; {len(roots) - len(missing)} with every ticker bundled; "
          f"{len(missing)} without:")
    for name, m in missing.items():
        print(f"  {name}: {len(m)} missing ({', '.join(m[:8])}{', …' if len(m) > 8 else ''})")
    if SHARED.is_dir():
        shared_symphonies = [p for p in SHARED.iterdir() if p.name not in NOT_SYMPHONIES]
        assert len(shared_symphonies) == 48
        assert all(p.name in roots for p in shared_symphonies)
        assert set(missing) == {"beam_chain_algo.clj", "beta_baller_tccc_v302a.clj", "fomo_nomo_leveraged.clj",
                                "nuclear_feaver_frontrunner_v5.clj", "tqqq_ftlt_v425a_garen.clj"}
    else:
        assert len(roots) >= 25 and not missing


BACKTESTABLE = [p for p in corpus() if tickers(_load(p)) <= available_tickers()]


@pytest.mark.parametrize("path", BACKTESTABLE, ids=lambda p: p.name)
def test_backtests_from_warm_up_to_the_last_bundled_session(path):
    root = _load(path)
    closes = load_adjusted_closes(sorted(tickers(root)))
    cache = IndicatorCache(closes)
    ev = evaluate(root, cache)
    res = run_backtest(root, cache, evaluation=ev)
    assert res.first_day == ev.first_valid_session
    assert res.last_day == pd.Timestamp(closes.index[-1])
    ends_early = [t for t in tickers(root) if closes[t].last_valid_index() < closes.index[-1]]
    if not ends_early:
        assert res.last_day.date() == last_session()
    assert np.isfinite(res.nav.to_numpy()).all() and (res.nav > 0).all()
    assert math.isfinite(res.stats["annualized_return"])
    # the held weights are the targets on every rebalance day (within slippage noise)
    traded = res.rebalanced.to_numpy()
    gap = (res.weights.to_numpy()[traded] - res.target_weights.to_numpy()[traded]).__abs__().max()
    assert gap < 0.02
