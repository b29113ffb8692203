"""No key, token or secret ever leaks (issue 11, item 4).

Recognisable values are set for the master key (and the new one of a rotation), a paper key id and secret, the
OAuth client secret and the OAuth access token. Then, the way users and the schedule do it:

* the CLI as a subprocess: ``credentials connect`` (refused keys, then good ones), ``status``, ``verify``,
  ``rotate-key``, and ``run-daily --broker alpaca`` three times with an on-disk ``DAGSTER_HOME`` (the token
  trades the fake paper account; after the rotation, once with the old master key — the account fails with its
  reason in Dagster's event log — and once with the new one, which trades);
* the dashboard through its router and sign-in form (AppTest): pasted keys refused then accepted, the OAuth
  flow (authorize, redirect back in a new session), then every page of the navigation as an operator;

and every byte of it is searched for each value (and its base64 form): the CLI's stdout and stderr, every file
under ``DAGSTER_HOME`` (the SQLite run and event-log storage, compute logs), the warehouse file and every row of
every table, Python log records, and every element the pages rendered.
"""
from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.alpaca_server import FakeAlpacaServer
from tests.orchestration.credentials_helpers import APP_URL, D1, D2, follow_authorize, prices, seeded
from warehouse import TABLES, Warehouse

ROOT = Path(__file__).resolve().parents[2]
MASTER_RAW, NEW_RAW = b"LEAKMASTERKEY-0123456789abcdefgh", b"LEAKNEWMASTER-fedcba9876543210zy"
MASTER, NEW_MASTER = base64.b64encode(MASTER_RAW).decode(), base64.b64encode(NEW_RAW).decode()
KEY_ID, SECRET = "PKLEAKKEYID00001", "LEAKSECRET-sk-7c1f2e3d4a5b"
CLIENT_ID, CLIENT_SECRET = "oragami-leak-client", "LEAKCLIENTSECRET-9a8b7c6d"
TOKEN = "LEAKTOKEN-oauth-55aa66bb77cc"
WRONG_SECRET = "LEAKWRONGSECRET-000111"
SECRETS = {"master key": MASTER, "new master key": NEW_MASTER, "key id": KEY_ID, "secret": SECRET,
           "client secret": CLIENT_SECRET, "token": TOKEN, "refused secret": WRONG_SECRET}


def needles() -> dict[str, bytes]:
    """Each secret as text bytes, its base64 (standard and URL-safe, unpadded) and the raw master keys."""
    out: dict[str, bytes] = {"master key (raw)": MASTER_RAW, "new master key (raw)": NEW_RAW}
    for name, value in SECRETS.items():
        out[name] = value.encode()
        b64 = base64.b64encode(value.encode()).rstrip(b"=")
        out[f"{name} (base64)"] = b64[:-2]      # the last characters depend on what follows it
        out[f"{name} (base64url)"] = base64.urlsafe_b64encode(value.encode()).rstrip(b"=")[:-2]
    return out


def leaks(where: str, blob: bytes | str) -> list[str]:
    data = blob.encode("utf-8", "replace") if isinstance(blob, str) else blob
    return [f"{name} in {where}" for name, needle in needles().items() if needle in data]


def cli(args: list[str], env: dict[str, str], stdin: str = "", timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orchestration.cli", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=timeout)


def rendered(at) -> str:
    """Every element of an AppTest run (protos of the main area and the sidebar, recursively), as text."""
    parts: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(parts)


@pytest.mark.slow
def test_no_secret_in_outputs_event_logs_warehouse_or_pages(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    home = tmp_path / "dagster_home"
    home.mkdir()
    url, wh = seeded(tmp_path, ("acct", "bad"))
    from dashboards import auth

    auth.create_user(wh, "leaky", "leaky-pass-12", "analyst", "acct")
    from warehouse.schema import USER_ROLES

    sweeper_role = "admin" if "admin" in USER_ROLES else "operator"     # the role that sees every page
    auth.create_user(wh, "ops", "ops-pass-1234", sweeper_role)
    wh.dispose()
    findings: list[str] = []
    outputs: list[tuple[str, str]] = []

    with FakeAlpacaServer(api_key=KEY_ID, secret_key=SECRET, oauth_token=TOKEN, prices=prices(D1),
                          oauth_client_id=CLIENT_ID, oauth_client_secret=CLIENT_SECRET) as fake:
        settings = {"ORAGAMI_MASTER_KEY": MASTER, "ORAGAMI_ALPACA_URL": fake.url, "ALPACA_URL_ACCT": fake.url,
                    "ALPACA_URL_BAD": fake.url, "DAGSTER_HOME": str(home),
                    "ORAGAMI_ALPACA_OAUTH_CLIENT_ID": CLIENT_ID, "ORAGAMI_ALPACA_OAUTH_CLIENT_SECRET": CLIENT_SECRET,
                    "ORAGAMI_ALPACA_OAUTH_AUTHORIZE_URL": f"{fake.url}/oauth/authorize",
                    "ORAGAMI_ALPACA_OAUTH_TOKEN_URL": f"{fake.url}/oauth/token", "ORAGAMI_APP_URL": APP_URL,
                    "ORAGAMI_DASHBOARD_AUTH": "on", "ORAGAMI_DUCKDB_PATH": url.removeprefix("duckdb:///")}
        for k in [k for k in os.environ if k.startswith(("ALPACA_", "ORAGAMI_"))]:
            monkeypatch.delenv(k)        # no environment keys: only the stored credentials can trade
        for k, v in settings.items():
            monkeypatch.setenv(k, v)     # the dashboard (AppTest) runs in this process
        env = dict(os.environ)           # ... and the CLI in subprocesses with the same settings

        # ---- the CLI: refused keys, then good keys for "bad" (which will not open later), status, verify
        r = cli(["credentials", "connect", "--account", "bad"], env, f"{KEY_ID}\n{WRONG_SECRET}\n")
        assert r.returncode == 2 and "refused these credentials (HTTP 401)" in r.stderr
        outputs.append(("connect (refused)", r.stdout + r.stderr))
        r = cli(["credentials", "connect", "--account", "bad"], {**env, "ORAGAMI_MASTER_KEY": NEW_MASTER},
                f"{KEY_ID}\n{SECRET}\n")
        assert r.returncode == 0, r.stderr
        outputs.append(("connect", r.stdout + r.stderr))

        # ---- the dashboard: pasted keys refused then accepted for acct, then OAuth replaces them
        import streamlit as st

        from dashboards.navigation import PAGES
        from tests.dashboards.door import open_page, sign_in

        st.cache_data.clear()
        page = "app_pages/account_settings.py"
        at = open_page(sign_in("leaky", "leaky-pass-12"), page)
        for secret in (WRONG_SECRET, SECRET):
            at.text_input(key="cred_key_id").set_value(KEY_ID)
            at.text_input(key="cred_secret").set_value(secret)
            next(b for b in at.button if b.label == "Validate and save").click()
            at = at.run()
            outputs.append((f"settings page after pasting {secret[:8]}", rendered(at)))
        assert "Connected with paper API keys" in rendered(at)
        next(b for b in at.button if b.label == "Start OAuth connection").click()
        at = at.run()
        outputs.append(("settings page, OAuth started", rendered(at)))
        back = follow_authorize(at.get("link_button")[0].proto.url)
        returned = sign_in("leaky", "leaky-pass-12")
        returned.query_params.update(back)
        returned = open_page(returned, page)
        text = rendered(returned)
        assert "connected to Alpaca paper with OAuth" in text
        outputs.append(("settings page after the OAuth redirect", text))

        for args in (["credentials", "status"], ["credentials", "verify", "--all"]):
            r = cli(args, env)
            outputs.append((" ".join(args), r.stdout + r.stderr))
        assert "acct: oauth" in outputs[-2][1] and "account acct: oauth credential verified" in outputs[-1][1]
        assert "verification FAILED: account 'bad'" in outputs[-1][1]      # sealed under the other key

        # ---- the daily run, as the CLI launches it, on an on-disk Dagster instance
        r = cli(["run-daily", "--session", D1, "--broker", "alpaca"], env)
        outputs.append(("run-daily D1", r.stdout + r.stderr))
        assert len(fake.orders_created) == 2, r.stdout + r.stderr      # the token traded acct (SPY, TLT)
        with Warehouse(url) as w:
            bad = w.read("orders", where={"account_id": "bad"})
            assert set(bad["status"]) == {"failed"} and "encrypted under master key" in bad["reason"].iloc[0]

        # ---- rotate the key; a run with the old key fails acct clearly; with the new key it trades
        r = cli(["credentials", "disconnect", "--account", "bad"], env)
        outputs.append(("disconnect bad", r.stdout + r.stderr))
        r = cli(["credentials", "rotate-key"], {**env, "ORAGAMI_NEW_MASTER_KEY": NEW_MASTER})
        assert r.returncode == 0 and "re-encrypted 1 broker credential(s)" in r.stdout, r.stderr
        outputs.append(("rotate-key", r.stdout + r.stderr))
        fake.prices = prices(D2)
        r = cli(["run-daily", "--session", D2, "--broker", "alpaca"], env)
        outputs.append(("run-daily D2 with the old key", r.stdout + r.stderr))
        assert len(fake.orders_created) == 2
        r = cli(["run-daily", "--session", D2, "--broker", "alpaca"], {**env, "ORAGAMI_MASTER_KEY": NEW_MASTER})
        outputs.append(("run-daily D2 with the new key", r.stdout + r.stderr))
        assert len(fake.orders_created) > 2, r.stdout + r.stderr

        # ---- every page, as an admin (or operator), after all of it (the audit trail included)
        monkeypatch.setenv("ORAGAMI_MASTER_KEY", NEW_MASTER)
        st.cache_data.clear()
        at = sign_in("ops", "ops-pass-1234")
        for spec in PAGES:
            if getattr(spec, "roles", None) and sweeper_role not in spec.roles:
                continue
            at = open_page(at, spec.path)
            # other areas' pages are searched whatever they show (an exception's text included); this
            # area's page must render
            assert not (at.exception and spec.path == page), at.exception
            outputs.append((f"page {spec.title}", rendered(at)))

    # the search itself finds what it looks for (plain, base64, inside binary data)
    assert leaks("self-check", b"\x00" + TOKEN.encode() + b"\x01") == ["token in self-check"]
    assert "secret (base64) in self-check" in leaks("self-check", base64.b64encode(SECRET.encode()))
    for where, text in outputs:
        findings += leaks(where, text)
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        findings += leaks(f"DAGSTER_HOME/{path.relative_to(home)}", path.read_bytes())
    assert any(p.suffix == ".db" for p in home.rglob("*")), "no Dagster event storage on disk was searched"
    event_dbs = list(home.rglob("*.db"))
    assert sum(p.stat().st_size for p in event_dbs) > 10_000
    with Warehouse(url) as w:
        for name in TABLES:
            try:
                rows = w.read(name)
            except Exception:   # noqa: BLE001 - a table another area has not created yet
                continue
            findings += leaks(f"warehouse table {name}", rows.to_csv(index=False))
        stored = w.read("broker_credentials")
        assert list(stored["kind"]) == ["oauth"] and stored["key_version"].iloc[0].startswith("k1-")
        assert {"broker_connected", "key_rotated", "run_failed"} <= set(w.read("audit_log")["action"])
    for path in tmp_path.glob("w.duckdb*"):
        findings += leaks(f"warehouse file {path.name}", path.read_bytes())
    findings += leaks("Python log records", "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records))
    assert not findings, "secrets leaked:\n" + "\n".join(findings)
    # the searched outputs are real: the runs logged their steps and the pages rendered
    assert sum(len(t) for _, t in outputs) > 20_000
