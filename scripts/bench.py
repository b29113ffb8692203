"""Benchmarks of the engine (``make bench``): prints figures, asserts nothing.

1. Per shared symphony with full bundled data: sessions, nodes, warm backtest seconds (evaluation + simulation, a
   second run in the same process with the price frame loaded and a fresh indicator cache), and the speed ratio of
   the plain per-day reference evaluator (tests/engine/reference.py) to the vectorised evaluator. The reference is
   timed on ``--ref-sample`` evenly spaced sessions and extrapolated to all sessions (its cost per session does not
   depend on the session, except for sub-strategy series, whose cost grows with the session index; the even
   spacing averages that).
   Both sides are timed with indicator series already computed (the vectorised evaluator on a warm cache, the
   reference after its indicator frames are built), so the ratio compares the tree evaluation itself; the cold
   evaluation time (indicators included) is printed beside it.
2. The corpus total.
3. 1,600 one-session evaluations of 1,600 distinct symphonies (40 accounts × 40; :func:`symphony_variants`:
   corpus symphonies with perturbed windows and thresholds, checked distinct by canonical JSON): CPU seconds of
   the first session evaluated in the process (cold) and of the next session (sub-strategy NAVs extended by one
   session), and the max RSS (``--only evaluations`` runs this section alone). Target (issue 12): ≤ 3 s CPU, ≤ 1 GB.

4. Parsing the largest real corpus file (``fomo_nomo_leveraged.clj``, ~327 KB): the defsymphony pre-pass
   (special floats, :func:`engine.parse_defsymphony.replace_special_floats`), the input-limit scan
   (:func:`engine.parse_common.check_text_limits`) and the whole :func:`engine.parsing.load_symphony`; best of 5.

5. The bundle (``data/bundled``): size on disk per file, and the cold load time (process cache emptied) of one
   symphony's tickers through :class:`warehouse.prices.BundledCloseReader` (row-group filter pushdown) against
   reading the whole adjusted-close table; best of 3.

Targets (issue 3): any symphony 2007→2026 ≤ 0.3 s warm; ratio ≥ 20×. Issue 12: 1,600 distinct one-session
evaluations ≤ 3 s CPU and ≤ 1 GB.
Target (issue 8): the defsymphony pre-pass of the largest corpus file ≤ 0.5 s.
"""
from __future__ import annotations

import argparse
import random
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.backtest import run_backtest  # noqa: E402
from engine.evaluate import IndicatorCache, SubStrategyStore, evaluate  # noqa: E402
from engine.model import iter_nodes, tickers  # noqa: E402
from engine.parsing import load_symphony  # noqa: E402
from tests.engine.reference import ReferenceEvaluator  # noqa: E402
from warehouse.bundled import available_tickers, load_adjusted_closes  # noqa: E402

START = "2007-01-03"


def corpus_files() -> list[Path]:
    files = {p.name: p for p in sorted((ROOT / "symphonies").iterdir())}
    shared = ROOT.parent / "shared" / "symphonies"
    if shared.is_dir():
        for p in sorted(shared.iterdir()):
            files.setdefault(p.name, p)
    keep = []
    for name, p in sorted(files.items()):
        if p.suffix in {".clj", ".json", ".edn"} and "backtest_response" not in name and "composer_backtest" not in name:
            keep.append(p)
    return keep


def load_all() -> list[tuple[Path, object]]:
    out = []
    seen = set()
    for p in corpus_files():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                root = load_symphony(p)
        except Exception:
            continue
        key = root.model_dump_json(exclude={"path", "id"})
        if key in seen:  # the same symphony in two encodings
            continue
        seen.add(key)
        out.append((p, root))
    return out


def parse_figures() -> None:
    """Section 4: parse timings of the largest defsymphony file of the corpus (best of 5 runs each)."""
    from engine.parse_common import check_text_limits
    from engine.parse_defsymphony import replace_special_floats

    largest = max((p for p in corpus_files() if p.suffix == ".clj"), key=lambda p: p.stat().st_size)
    text = largest.read_text(encoding="utf-8-sig")

    def best(fn) -> float:
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pre, scan, full = (best(lambda: replace_special_floats(text)), best(lambda: check_text_limits(text)),
                           best(lambda: load_symphony(largest)))
        pre_nan = best(lambda: replace_special_floats(text + " ##NaN"))  # forces the regex pass
    print(f"parse {largest.name} ({largest.stat().st_size / 1000:.0f} KB): defsymphony pre-pass {pre:.4f} s "
          f"({pre_nan:.4f} s with a ##NaN; target <= 0.5 s), limit scan {scan:.4f} s, "
          f"whole load_symphony {full:.3f} s")
    print()


def bundle_figures() -> None:
    """Section 5: bundle size and the cold load time of one symphony's tickers (best of 3, cache emptied)."""
    import pyarrow.parquet as pq

    from warehouse import bundled
    from warehouse.prices import BundledCloseReader

    files = {f: (bundled.BUNDLE_DIR / f).stat().st_size for f in ("adj_close.parquet", "bars.parquet",
                                                                  "manifest.json")}
    m = bundled.manifest()
    print(f"bundle: {sum(files.values()) / 1e6:.1f} MB ({', '.join(f'{k} {v / 1e6:.1f} MB' for k, v in files.items())});"
          f" {m['adj_close']['tickers']} tickers, {m['adj_close']['rows']:,} closes, "
          f"{pq.ParquetFile(bundled.BUNDLE_DIR / 'adj_close.parquet').metadata.num_row_groups} row groups")

    def cold(fn) -> float:
        times = []
        for _ in range(3):
            bundled._SERIES.clear()
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    reader = BundledCloseReader()
    for name in ("tqqq_ftlt_v2_226.clj", "what_have_i_done_v1a.clj"):
        path = next((p for p in corpus_files() if p.name == name), None)
        if path is None:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            need = sorted(tickers(load_symphony(path)))
        secs = cold(lambda: reader.closes(need))
        print(f"load {name} ({len(need)} tickers, inception → last session): {secs:.3f} s cold")
    whole = cold(lambda: pq.read_table(bundled.BUNDLE_DIR / "adj_close.parquet").to_pandas())
    print(f"read the whole adj_close table: {whole:.3f} s")
    print()


# ---------------------------------------------------------------------------------------------------------------
# Section 3: one-session evaluations of 1,600 distinct symphonies
# ---------------------------------------------------------------------------------------------------------------

def _perturbation_sites(node: object, out: list) -> None:
    """Collect the mutable dicts of a dumped symphony that hold a window or a comparison threshold.

    Sites are ``(dict, key, kind)``: ``kind`` is ``"window"`` (an indicator, filter or inverse-vol window) or
    ``"threshold"`` (the constant right side of a comparison).
    """
    if isinstance(node, dict):
        for key in ("window", "sort_window"):
            if isinstance(node.get(key), int) and not isinstance(node.get(key), bool):
                out.append((node, key, "window"))
        rhs = node.get("rhs")
        if isinstance(rhs, dict) and set(rhs) == {"value"}:
            out.append((rhs, "value", "threshold"))
        for v in node.values():
            _perturbation_sites(v, out)
    elif isinstance(node, (list, tuple)):
        for v in node:
            _perturbation_sites(v, out)


def symphony_variants(roots: list, n: int, seed: int = 12) -> list:
    """``n`` distinct symphonies made from ``roots`` by perturbing windows and thresholds (deterministic).

    Variant k is ``roots[k % len(roots)]`` with one to three of its windows moved by ±1…5 trading days (at least 2)
    or thresholds moved by ±1…10 % of their value (±0.1…1 when the value is 0). Each variant's canonical JSON
    (``model_dump_json`` without ``path`` / ``id``) differs from every other's and from the originals'; a draw
    that repeats one is redrawn.

    Args:
        roots: parsed symphonies (:class:`engine.model.Root`).
        n: number of variants.
        seed: seed of the generator.

    Returns:
        ``n`` parsed :class:`engine.model.Root`, all distinct.
    """
    from engine.model import Root

    rng = random.Random(seed)
    seen = {r.model_dump_json(exclude={"path", "id"}) for r in roots}
    out = []
    k = 0
    while len(out) < n:
        base = roots[k % len(roots)]
        k += 1
        for _attempt in range(20):
            data = base.model_dump()
            sites: list = []
            _perturbation_sites(data, sites)
            if not sites:
                break
            for holder, key, kind in rng.sample(sites, min(len(sites), rng.randint(1, 3))):
                if kind == "window":
                    step = rng.choice((-1, 1)) * rng.randint(1, 5)
                    holder[key] = max(2, holder[key] + step)
                else:
                    v = float(holder[key])
                    delta = abs(v) * rng.uniform(0.01, 0.10) if v else rng.uniform(0.1, 1.0)
                    holder[key] = round(v + rng.choice((-1, 1)) * delta, 4)
            try:
                variant = Root.model_validate(data)
            except Exception:
                continue
            key_json = variant.model_dump_json(exclude={"path", "id"})
            if key_json not in seen:
                seen.add(key_json)
                out.append(variant)
                break
    return out


def evaluation_figures(roots: list, n: int, repeat: int = 3) -> None:
    """Section 3: ``n`` one-session evaluations of ``n`` distinct symphonies (:func:`symphony_variants`).

    Prints CPU seconds (``time.process_time``, best of ``repeat`` runs, each in a fresh indicator cache and with
    an empty sub-strategy store) for two cases:

    * **cold**: the first session ever evaluated in the process (every indicator and every sub-strategy NAV is
      built over the whole history);
    * **next session**: the same symphonies evaluated the day before on a frame one session shorter (that run is
      not timed), as the daily job does from one session to the next; a sub-strategy NAV is extended by one
      session, indicators are computed again over the longer frame.

    The peak RSS is the process's (``ru_maxrss``), so run ``--only evaluations`` for this section's own figure.
    """
    variants = symphony_variants(roots, n)
    distinct = len({v.model_dump_json(exclude={"path", "id"}) for v in variants})
    union = sorted(set().union(*(tickers(r) for r in variants)))
    closes = load_adjusted_closes(union)
    closes = closes[closes.index >= pd.Timestamp(START) - pd.Timedelta(days=2000)]
    session = closes.index[-1]
    import engine.evaluate as evaluate_module

    store_reset = getattr(evaluate_module, "clear_substrategy_store", lambda: None)

    def run(frame: pd.DataFrame) -> tuple[float, int]:
        cache = IndicatorCache(frame)
        held = 0
        t0 = time.process_time()
        day = frame.index[-1]
        for root in variants:
            ev = evaluate(root, cache, start=day)
            held += len(ev.weights_on(day))
        return time.process_time() - t0, held

    cold, nxt = [], []
    for _ in range(repeat):
        store_reset()
        cold.append(run(closes)[0])
        store_reset()
        run(closes.iloc[:-1])  # the previous session (not timed)
        secs, held = run(closes)
        nxt.append(secs)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    store = getattr(evaluate_module, "substrategy_store", lambda: None)()
    kept = f", sub-strategy store {len(store)} entries / {store.nbytes / 2**20:.0f} MiB" if store else ""
    print(f"{n} one-session evaluations of {distinct} distinct symphonies (variants of {len(roots)}) for "
          f"{session.date()}, {len(union)} tickers, {len(closes)} sessions: cold {min(cold):.2f} CPU s, "
          f"next session {min(nxt):.2f} CPU s (best of {len(cold)}; target <= 3 s), max RSS {rss:.0f} MiB "
          f"(target <= 1 GB), {held} holdings{kept}")
    print()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref-sample", type=int, default=60, help="sessions timed with the reference evaluator")
    ap.add_argument("--accounts", type=int, default=40)
    ap.add_argument("--per-account", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3, help="runs of section 3 (the best is printed)")
    ap.add_argument("--only", choices=("evaluations",), help="run one section alone (its own peak RSS)")
    args = ap.parse_args()

    if args.only == "evaluations":
        have = available_tickers()
        evaluation_figures([r for _, r in load_all() if tickers(r) <= have], args.accounts * args.per_account,
                           args.repeat)
        return 0

    parse_figures()
    bundle_figures()
    have = available_tickers()
    syms = load_all()
    full = [(p, r) for p, r in syms if tickers(r) <= have]
    missing = [(p, sorted(tickers(r) - have)) for p, r in syms if not tickers(r) <= have]
    print(f"symphonies: {len(syms)} distinct parsed, {len(full)} with all tickers bundled, {len(missing)} without")
    for p, m in missing:
        print(f"  not bundled: {p.name}: {', '.join(m)}")
    print()
    print(f"{'symphony':44s} {'sessions':>8s} {'nodes':>6s} {'backtest_s':>10s} {'eval_cold_s':>11s} "
          f"{'eval_warm_s':>11s} {'ref/vec':>9s}")
    total_bt = 0.0
    worst = 0.0
    ratios = []
    for p, root in full:
        closes = load_adjusted_closes(sorted(tickers(root)))
        closes = closes[closes.index >= pd.Timestamp(START) - pd.Timedelta(days=2000)]
        nodes = sum(1 for _ in iter_nodes(root))
        # each timed run gets an empty sub-strategy store: nothing is reused from an earlier run of this symphony
        run_backtest(root, IndicatorCache(closes, substrategies=SubStrategyStore()), start=START)  # warm-up run
        t0 = time.perf_counter()
        res = run_backtest(root, IndicatorCache(closes, substrategies=SubStrategyStore()), start=START)
        bt = time.perf_counter() - t0
        cache = IndicatorCache(closes, substrategies=SubStrategyStore())
        t0 = time.perf_counter()
        evaluate(root, cache)
        cold_s = time.perf_counter() - t0           # indicators computed + tree
        cache.substrategies = SubStrategyStore()    # sub-strategy NAVs rebuilt, as the reference does
        t0 = time.perf_counter()
        ev = evaluate(root, cache)
        ev_s = time.perf_counter() - t0             # tree only (indicators cached), like the timed reference
        ref = ReferenceEvaluator(root, closes)
        valid = np.flatnonzero(ev.valid.to_numpy())
        sample = valid[np.linspace(0, len(valid) - 1, min(args.ref_sample, len(valid))).astype(int)]
        ref.weights(int(sample[0]))  # indicator frames computed once, outside the timing (as in the engine's cache)
        t0 = time.perf_counter()
        for t in sample:
            ref._memo.clear()
            ref.weights(int(t))
        per_session = (time.perf_counter() - t0) / len(sample)
        ratio = per_session * len(ev.sessions) / ev_s
        ratios.append(ratio)
        total_bt += bt
        worst = max(worst, bt)
        print(f"{p.name[:44]:44s} {len(res.nav):8d} {nodes:6d} {bt:10.3f} {cold_s:11.4f} {ev_s:11.4f} {ratio:9.1f}")
    print(f"corpus: {len(full)} symphonies, total backtest {total_bt:.2f} s, worst {worst:.3f} s, "
          f"ratio min {min(ratios):.1f}× median {np.median(ratios):.1f}×")
    print()

    evaluation_figures([r for _, r in full], args.accounts * args.per_account, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
