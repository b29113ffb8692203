"""A one-session evaluation (the daily job's, ``start`` = the session) takes the evaluator's one-session shortcuts
(an ``if`` takes its branch's allocation); it must give exactly what the vectorised path gives for that session
when several sessions are evaluated at once: weights bit for bit, the held set, validity and the trace."""
from __future__ import annotations

import numpy as np
import pytest

from engine.evaluate import IndicatorCache, SubStrategyStore, evaluate
from engine.model import If, tickers
from tests.engine.test_corpus import EXCEPTIONS, _load, corpus
from warehouse.bundled import available_tickers, load_adjusted_closes


@pytest.fixture(scope="module")
def roots() -> dict:
    have = available_tickers()
    out = {p.name: r for p in corpus() if p.name not in EXCEPTIONS and tickers(r := _load(p)) <= have}
    assert len(out) >= 40, sorted(out)
    return out


def test_one_session_equals_the_same_session_of_a_several_session_evaluation(roots):
    closes = load_adjusted_closes(sorted(set().union(*(tickers(r) for r in roots.values()))))
    compared = 0
    for cut in (0, 5):   # the last bundled session and one a week earlier
        frame = closes.iloc[:len(closes) - cut]
        day = frame.index[-1]
        one = IndicatorCache(frame, substrategies=SubStrategyStore())
        several = IndicatorCache(frame, substrategies=SubStrategyStore())
        for name, root in roots.items():
            a = evaluate(root, one, start=day)
            b = evaluate(root, several, start=frame.index[-4])
            assert len(a.sessions) == 1 and len(b.sessions) == 4
            assert a.held == b.held, (name, day)
            assert np.array_equal(a.weight_matrix[-1], b.weight_matrix[-1]), (name, day)
            assert a.weights_on(day) == b.weights_on(day), (name, day)
            assert bool(a.valid_mask[-1]) == bool(b.valid_mask[-1]), (name, day)
            assert a.trace(day) == b.trace(day), (name, day)
            compared += 1
    assert compared == 2 * len(roots)
    # the corpus exercises the shortcut: most of these symphonies decide through an if on the session
    with_if = [n for n, r in roots.items() if any(isinstance(rec.node, If)
                                                  for rec in evaluate(r, one, start=day).records.values())]
    assert len(with_if) >= 30, with_if
