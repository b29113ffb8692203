"""Benchmark of the whole daily job (``make bench``): 40 accounts × 40 symphonies against local fake Alpaca servers.

Checks → allocations → netted orders → submission → reconciliation for one session, in-process, on a fresh DuckDB
warehouse whose bar history is already ingested (the daily run ingests one new session). Each account trades its
own fake Alpaca paper account on 127.0.0.1 through the real alpaca-py client, with the 200 requests/minute rate
limiter. Prints the wall time, requests per account and peak memory. Target (issue 4): ≤ 120 s on 2 cores.
"""
from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dagster as dg  # noqa: E402
import pandas as pd  # noqa: E402

from assets.daily import DAILY_ASSETS, DAILY_CHECKS, needed_tickers, tradable_symphonies  # noqa: E402
from engine.calendar import previous_session  # noqa: E402
from engine.model import tickers  # noqa: E402
from orchestration.cli import seed_symphonies  # noqa: E402
from orchestration.definitions import build_resources  # noqa: E402
from resources import AlpacaBroker  # noqa: E402
from scripts.bench import load_all  # noqa: E402
from tests.fakes.alpaca_server import FakeAlpacaServer  # noqa: E402
from warehouse import Warehouse  # noqa: E402
from warehouse.bundled import available_tickers, load_adjusted_closes  # noqa: E402

SESSION = "2026-07-31"


def build_fleet(tmp: Path, accounts: int, per_account: int, faults: int = 0, quiet: bool = False):
    """A fresh DuckDB warehouse under ``tmp`` with ``accounts`` × ``per_account`` corpus symphonies (random picks,
    seed 7), bar history to the session before :data:`SESSION` already ingested, and one fake Alpaca paper server
    per account on 127.0.0.1 (``faults`` transient faults injected on each).

    Returns ``(url, servers, env)``: the warehouse URL, the started servers (stop them) and the environment
    variables that point each account at its server (``ALPACA_API_KEY_<ACCT>``, ``..._SECRET_KEY_...``,
    ``ALPACA_URL_<ACCT>``); they are also set in ``os.environ``.
    """
    say = (lambda *a: None) if quiet else print
    have = available_tickers()
    corpus = [(p, r) for p, r in load_all() if tickers(r) <= have]
    rng = random.Random(7)
    url = f"duckdb:///{tmp / 'bench.duckdb'}"
    wh = Warehouse(url)
    wh.create_schema()
    t0 = time.perf_counter()
    for a in range(accounts):
        files = [corpus[rng.randrange(len(corpus))][0] for _ in range(per_account)]
        rows = []
        for j, f in enumerate(files):
            copy = tmp / f"a{a:02d}_s{j:02d}{f.suffix}"
            copy.write_bytes(f.read_bytes())
            rows.append(copy)
        seed_symphonies(wh, rows, f"acct{a:02d}")
    syms = tradable_symphonies(wh)
    need = needed_tickers(syms)
    say(f"seeded {accounts} accounts × {per_account} symphonies ({len(syms)} tradable, "
        f"{len(need)} tickers) in {time.perf_counter() - t0:.1f} s")
    # history up to the previous session is already in the warehouse (yesterday's run ingested it)
    t0 = time.perf_counter()
    prev = previous_session(pd.Timestamp(SESSION).date())
    bars = build_resources()["market_data"].bars(need, None, prev)
    bars = bars.assign(source="bundled", adjustment="all", ingested_at=pd.Timestamp.now(tz="UTC"))
    wh.replace("daily_bars", bars, where={"ticker": need})
    say(f"pre-loaded {len(bars)} history bars in {time.perf_counter() - t0:.1f} s")
    wh.dispose()
    prices = {t: float(v) for t, v in load_adjusted_closes(need, end=SESSION).iloc[-1].items() if v == v}
    servers, env = [], {}
    for a in range(accounts):
        key, secret = f"key-{a}", f"secret-{a}"
        server = FakeAlpacaServer(api_key=key, secret_key=secret, prices=prices, cash=10_000_000.0).start()
        servers.append(server)
        for i in range(faults):   # spread over the calls the retry policy covers
            method, path = [("GET", "/v2/orders:by_client_order_id"), ("POST", "/v2/orders"),
                            ("GET", "/v2/account"), ("GET", "/v2/positions")][i % 4]
            server.inject(method, path, ["429", "504_before", "504_after"][i % 3] if method == "POST"
                          else ["429", "504_before"][i % 2])
        env.update({f"ALPACA_API_KEY_ACCT{a:02d}": key, f"ALPACA_SECRET_KEY_ACCT{a:02d}": secret,
                    f"ALPACA_URL_ACCT{a:02d}": server.url})
    os.environ.update(env)
    return url, servers, env


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=40)
    ap.add_argument("--per-account", type=int, default=40)
    ap.add_argument("--faults", type=int, default=0,
                    help="transient faults (429/504) injected per account on look-ups, POST and reconciliation reads")
    ap.add_argument("--tracemalloc", action="store_true",
                    help="also report the Python-heap peak (tracemalloc slows the run by 20-40 %%; off by default "
                         "so the wall time is the job's own)")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    tmp = Path(tempfile.mkdtemp(prefix="oragami-bench-"))
    url, servers, _ = build_fleet(tmp, args.accounts, args.per_account, args.faults)
    wh = Warehouse(url)
    resources = build_resources(warehouse_url=url, broker="alpaca")
    # a new resource, not model_copy(update=...): Dagster rebuilds a resource from its config when the run starts,
    # which drops a model_copy update (the run then waited 1, 2, 4 s between broker retries under --faults)
    resources["broker"] = AlpacaBroker(url_override=resources["broker"].url_override, backoff_s=0.0)
    import tracemalloc

    if args.tracemalloc:
        tracemalloc.start()
    t0 = time.perf_counter()
    result = dg.materialize([*DAILY_ASSETS, *DAILY_CHECKS], resources=resources, partition_key=SESSION,
                            instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
                            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}})
    wall = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] if args.tracemalloc else 0
    tracemalloc.stop()
    step_s = {}
    for ev in result.all_events:
        if ev.event_type_value == "STEP_SUCCESS":
            step_s[ev.step_key] = ev.event_specific_data.duration_ms / 1000
    per_account = [len(s.requests) for s in servers]
    created = sum(len(s.orders_created) for s in servers)
    unique = sum(len(s.unique_client_ids) for s in servers)
    orders = wh.read("orders", where={"session_date": pd.Timestamp(SESSION).date()})
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"daily job {SESSION}: {'success' if result.success else 'FAILED'} in {wall:.1f} s "
          f"(target ≤ 120 s); max RSS {rss:.0f} MiB"
          + (f", tracemalloc peak {peak / 2**20:.0f} MiB" if args.tracemalloc else ""))
    print("  steps: " + ", ".join(f"{k} {v:.1f}s" for k, v in step_s.items()))
    print(f"  orders recorded {len(orders)}, created at the fake brokers {created}, unique client ids {unique}; "
          f"requests per account max {max(per_account)} (limit 200/min), total {sum(per_account)}")
    from warehouse.repos import ledgers as ledger_repo, orders as order_repo
    from warehouse.scope import ALL_ACCOUNTS

    answered = sum(order_repo.answered(r) for r in orders.to_dict("records"))
    bad = ledger_repo.stored_violations(wh, pd.Timestamp(SESSION).date(), ALL_ACCOUNTS)
    print(f"  faults served {sum(s.faults_served() for s in servers)}; orders answered and recorded {answered} "
          f"(= created {created}); ledger invariant violations {len(bad)}")
    for s in servers:
        s.stop()
    return 0 if result.success and answered == created == unique and not bad else 1


if __name__ == "__main__":
    raise SystemExit(main())
