"""The whole corpus: every symphony file parses; every one whose tickers are bundled (all 773 of
``../shared/data/adj_close``) backtests from its warm-up to the last session. The exceptions are listed by ticker:
only symphonies reading a ticker that no source had (SOURCES.md: "41 such tickers are not in it")."""
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
SHARED_PRICES = ROOT.parent / "shared" / "data" / "adj_close"
#: The only corpus files that cannot be backtested, and the tickers of each that no price source had.
EXCEPTIONS = {
    "fomo_nomo_leveraged.clj": ["ACLX", "AMDU", "BOED", "BU", "CFLT", "CNTA", "COMM", "DKUP", "DOGD", "DVAX", "ENPX",
                                "EXAS", "LACG", "LLYZ", "LMTS", "MAXN", "MDBX", "MNMD", "NETX", "NNEX", "PXIU", "QSX",
                                "RAPT", "REKT", "SAVA", "SKYT", "TERN", "VTYX", "VVPR", "XOMZ", "XVOL", "XYL"],
    "tqqq_ftlt_v425a_garen.clj": ["DVAX", "LULU", "PCH"],
}
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
        assert missing == EXCEPTIONS
    else:
        assert set(missing) <= set(EXCEPTIONS) and len(roots) >= 25
    if SHARED_PRICES.is_dir():  # every ticker a source had is bundled: the exceptions are the sources' gaps
        shared_tickers = {p.stem for p in SHARED_PRICES.glob("*.csv")}
        assert shared_tickers == have
        assert not {t for m in missing.values() for t in m} & shared_tickers


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
