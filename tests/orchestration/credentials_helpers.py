"""Shared set-up for the broker-credential tests: a seeded warehouse, the OAuth settings pointing at a fake
Alpaca server, the OAuth redirect followed the way a browser follows it, and the daily graph on the Alpaca
broker resource (Dagster and the graph are imported only by the functions that need them, so the dashboard
tests can use the rest)."""
from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

from tests.fakes.alpaca_server import FakeAlpacaServer
from warehouse import Warehouse
from warehouse.bundled import load_adjusted_closes

D1, D2 = "2024-06-21", "2024-06-24"
CLIENT_ID, CLIENT_SECRET = "oragami-test-client", "client-secret-LEAKCHECK-5b7e"
APP_URL = "http://127.0.0.1:8501"


def key_text(fill: bytes) -> str:
    """A master key of 32 bytes repeating ``fill`` (recognisable), base64."""
    return base64.b64encode((fill * 32)[:32]).decode()


def prices(day: str) -> dict[str, float]:
    row = load_adjusted_closes(["SPY", "TLT"], end=day).iloc[-1]
    return {t: float(v) for t, v in row.items()}


def seeded(tmp_path: Path, accounts=("acct",)) -> tuple[str, Warehouse]:
    """A DuckDB warehouse with one symphony (SPY 50 % / TLT 50 %) in each of ``accounts``."""
    from orchestration.cli import seed_symphonies

    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    wh = Warehouse(url)
    wh.create_schema()
    for account in accounts:
        f = tmp_path / f"{account}_mix.clj"
        f.write_text(f'(defsymphony "{account} mix" {{:rebalance-frequency :daily}} '
                     '(weight-equal [(asset "SPY") (asset "TLT")]))')
        seed_symphonies(wh, [f], account)
    return url, wh


def oauth_env(monkeypatch, server: FakeAlpacaServer) -> None:
    """Point the OAuth settings (client, authorize and token URLs, app URL) at ``server``."""
    monkeypatch.setenv("ORAGAMI_ALPACA_OAUTH_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ORAGAMI_ALPACA_OAUTH_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("ORAGAMI_ALPACA_OAUTH_AUTHORIZE_URL", f"{server.url}/oauth/authorize")
    monkeypatch.setenv("ORAGAMI_ALPACA_OAUTH_TOKEN_URL", f"{server.url}/oauth/token")
    monkeypatch.setenv("ORAGAMI_APP_URL", APP_URL)


def follow_authorize(url: str) -> dict[str, str]:
    """GET the authorization URL as the browser would, and return the query of the redirect back to the app
    (``code``, ``state`` or ``error``), after checking it goes to the settings page."""
    r = requests.get(url, allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text
    location = urlsplit(r.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{APP_URL}/settings"
    return {k: v[-1] for k, v in parse_qs(location.query).items()}


def run_daily(url: str, session: str, raise_on_error: bool = False, instance=None):
    """Materialise the daily graph for ``session`` on the Alpaca broker resource (no retry waits)."""
    import dagster as dg

    from assets.daily import DAILY_ASSETS
    from orchestration.definitions import build_resources
    from resources import AlpacaBroker

    resources = build_resources(warehouse_url=url, broker="alpaca")
    # a new resource, not model_copy(update=...): Dagster rebuilds a resource from its config when the run starts,
    # which drops a model_copy update (the runs then waited 1, 2, 4 s between broker retries)
    resources["broker"] = AlpacaBroker(url_override=resources["broker"].url_override, backoff_s=0.0)
    return dg.materialize([*DAILY_ASSETS], resources=resources, partition_key=session,
                          instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=raise_on_error)
