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
3. 1,600 evaluations for one session (40 accounts × 40 symphonies drawn from the shared ones): wall time and peak
   memory (tracemalloc peak of Python allocations, plus the process's max RSS).

4. Parsing the largest real corpus file (``fomo_nomo_leveraged.clj``, ~327 KB): the defsymphony pre-pass
   (special floats, :func:`engine.parse_defsymphony.replace_special_floats`), the input-limit scan
   (:func:`engine.parse_common.check_text_limits`) and the whole :func:`engine.parsing.load_symphony`; best of 5.

5. The bundle (``data/bundled``): size on disk per file, and the cold load time (process cache emptied) of one
   symphony's tickers through :class:`warehouse.prices.BundledCloseReader` (row-group filter pushdown) against
   reading the whole adjusted-close table; best of 3.

Targets (issue 3): any symphony 2007→2026 ≤ 0.3 s warm; ratio ≥ 20×; 1,600 evaluations ≤ 60 s and ≤ 2 GB.
Target (issue 8): the defsymphony pre-pass of the largest corpus file ≤ 0.5 s.
"""
from __future__ import annotations

import argparse
import random
import resource
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.backtest import run_backtest  # noqa: E402
from engine.evaluate import IndicatorCache, evaluate  # noqa: E402
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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref-sample", type=int, default=60, help="sessions timed with the reference evaluator")
    ap.add_argument("--accounts", type=int, default=40)
    ap.add_argument("--per-account", type=int, default=40)
    args = ap.parse_args()

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
        run_backtest(root, IndicatorCache(closes), start=START)  # warm-up run (imports, allocator)
        t0 = time.perf_counter()
        res = run_backtest(root, IndicatorCache(closes), start=START)
        bt = time.perf_counter() - t0
        cache = IndicatorCache(closes)
        t0 = time.perf_counter()
        evaluate(root, cache)
        cold_s = time.perf_counter() - t0           # indicators computed + tree
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

    # 1,600 evaluations for one session, one shared indicator cache over the union of tickers
    rng = random.Random(42)
    n = args.accounts * args.per_account
    drawn = [full[rng.randrange(len(full))][1] for _ in range(n)]
    union = sorted(set().union(*(tickers(r) for r in drawn)))
    closes = load_adjusted_closes(union)
    closes = closes[closes.index >= pd.Timestamp(START) - pd.Timedelta(days=2000)]
    session = closes.index[-1]
    tracemalloc.start()
    t0 = time.perf_counter()
    cache = IndicatorCache(closes)
    held = 0
    for root in drawn:
        ev = evaluate(root, cache, start=session)
        held += len(ev.weights_on(session))
    wall = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{n} evaluations ({args.accounts} accounts × {args.per_account}) for {session.date()}: {wall:.1f} s, "
          f"tracemalloc peak {peak / 2**20:.0f} MiB, max RSS {rss:.0f} MiB, {len(union)} tickers, "
          f"{held} holdings")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
