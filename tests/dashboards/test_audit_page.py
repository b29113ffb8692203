"""The Audit log page after a scripted day, through the router's sign-in form and the pages themselves: an analyst
signs in, uploads a symphony on the library page, deactivates and activates it; an admin changes a risk gate; the
command line seeds a symphony. The page lists each event once (operators and admins: all; the analyst: her own
account's only), filters by action, actor, account and day, and exports exactly the table as CSV."""
from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pytest

from orchestration.cli import main as oragami
from tests.dashboards.door import ROOT, click, open_page, sign_in, texts

AUDIT = "app_pages/audit.py"
LIBRARY = "app_pages/library.py"
UPLOAD = ROOT / "symphonies" / "sector_surfing_rsi_bottom2.clj"


def _scripted_day(roles_db: Path) -> None:
    alice = open_page(sign_in("alice"), LIBRARY)
    alice.file_uploader(key="library_upload").upload(UPLOAD.name, UPLOAD.read_bytes(), "text/plain").run()
    alice.button(key="library_register").click().run()
    assert "Registered `sector-surfing-rsi-bottom2` as **active**." in texts(alice)
    alice.selectbox(key="library_pick").set_value("sector-surfing-rsi-bottom2").run()
    alice.button(key="library_deactivate").click().run()
    alice.selectbox(key="library_pick").set_value("sector-surfing-rsi-bottom2").run()
    alice.button(key="library_activate").click().run()
    assert "`sector-surfing-rsi-bottom2` is now active." in texts(alice)
    ada = open_page(sign_in("ada"), "app_pages/admin.py")
    ada.selectbox(key="admin_gate_pick").set_value("acct-b").run()
    ada.number_input(key="admin_gate_kill").set_value(3.0)
    click(ada, "Save risk gates")
    assert oragami(["seed", str(ROOT / "symphonies" / "golden_rotation_2x.clj"), "--account", "acct-b",
                    "--no-data-check"]) == 0


def _table(at) -> pd.DataFrame:
    return at.dataframe[0].value


def test_the_audit_page_lists_the_days_events_once_each(roles_db):
    _scripted_day(roles_db)
    at = open_page(sign_in("root"), AUDIT)
    assert not at.exception
    events = _table(at)
    day = events[~events["action"].isin(["user_created"])]      # the fixture's users were created first
    got = list(zip(day["actor"].fillna(""), day["action"], day["account_id"].fillna(""), day["target"].fillna("")))
    assert got[::-1] == [      # newest first on the page; the day in order
        ("alice", "sign_in_ok", "acct-a", "alice"),
        ("alice", "symphony_uploaded", "acct-a", "sector-surfing-rsi-bottom2"),
        ("alice", "symphony_deactivated", "acct-a", "sector-surfing-rsi-bottom2"),
        ("alice", "symphony_activated", "acct-a", "sector-surfing-rsi-bottom2"),
        ("ada", "sign_in_ok", "", "ada"),
        ("ada", "risk_gate_changed", "acct-b", "acct-b"),
        (got[1][0], "symphony_uploaded", "acct-b", "golden-rotation-2x"),
        ("root", "sign_in_ok", "", "root"),
    ]
    assert got[1][0].startswith("cli:")
    gate = day[day["action"] == "risk_gate_changed"].iloc[0]
    assert (gate["role"], gate["origin"], gate["detail"]) == ("admin", "dashboard unknown",
                                                              "daily_loss_kill_pct None -> 0.03")
    upload = day[day["target"] == "sector-surfing-rsi-bottom2"].iloc[-1]
    assert upload["detail"].endswith("(defsymphony), stored active")
    assert "every account and platform-wide events" in texts(at)

    # filters: action, actor, account, days
    at.multiselect(key="audit_actions").set_value(["symphony_activated", "symphony_deactivated"]).run()
    assert list(_table(at)["action"]) == ["symphony_activated", "symphony_deactivated"]
    at.multiselect(key="audit_actions").set_value([]).run()
    at.text_input(key="audit_actor").set_value("ada").run()
    assert list(_table(at)["action"]) == ["risk_gate_changed", "sign_in_ok"]
    at.text_input(key="audit_actor").set_value("").run()
    at.selectbox(key="audit_account").set_value("acct-b").run()
    assert set(_table(at)["account_id"]) == {"acct-b"} and len(_table(at)) == 3   # bob created, gate, seed
    at.selectbox(key="audit_account").set_value(None).run()
    yesterday = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
    at.date_input(key="audit_dates").set_value((yesterday, yesterday)).run()
    assert _table(at).empty and "0 events" in texts(at)
    at.date_input(key="audit_dates").set_value((yesterday, yesterday + dt.timedelta(days=1))).run()
    assert len(_table(at)) == len(events)


def test_the_export_is_the_filtered_table_and_an_analyst_sees_her_accounts_only(roles_db, downloads):
    _scripted_day(roles_db)
    at = open_page(sign_in("alice"), AUDIT)
    events = _table(at)
    assert set(events["account_id"]) == {"acct-a"}                    # never acct-b, never platform-wide rows
    assert "ada" not in set(events["actor"]) and "root" not in set(events["actor"])
    assert sorted(events["action"]) == sorted(["user_created", "sign_in_ok", "sign_in_ok", "symphony_uploaded",
                                               "symphony_deactivated", "symphony_activated"])
    assert at.selectbox(key="audit_account").options == ["every account in view", "acct-a"]
    at.multiselect(key="audit_actions").set_value(["symphony_uploaded"]).run()
    exported = pd.read_csv(io.BytesIO(downloads["audit_log.csv"]))
    table = _table(at)
    assert list(exported.columns) == list(table.columns)
    assert list(exported["target"]) == list(table["target"]) == ["sector-surfing-rsi-bottom2"]
    assert exported["occurred_at"].iloc[0] == table["occurred_at"].iloc[0].strftime("%Y-%m-%dT%H:%M:%S%z")


@pytest.fixture
def downloads(monkeypatch) -> dict[str, bytes]:
    """``{file name: bytes}`` of every file a page hands to a download button (Streamlit's media storage)."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    seen: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def spy(self, path_or_data, mimetype, kind, filename=None):
        seen[filename] = path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    return seen


def test_a_warehouse_older_than_the_audit_log_says_so(tmp_path, use_duckdb):
    """The local demo's door (login off) on a warehouse whose schema predates the audit trail: a message, no
    error, and nothing created (the dashboard reads only)."""
    import sqlalchemy as sa

    from tests.dashboards.door import open_app
    from tests.dashboards.seed_data import seed_overview
    from warehouse import Warehouse

    path = tmp_path / "old.duckdb"
    with Warehouse(f"duckdb:///{path}") as wh:
        wh.create_schema()
        seed_overview(wh)
        with wh.begin() as conn:
            conn.exec_driver_sql("DROP TABLE audit_log")
    use_duckdb(path)
    at = open_page(open_app().run(), AUDIT)
    assert not at.exception
    assert at.info[0].value.startswith("No audit log in this warehouse yet")
    with Warehouse(f"duckdb:///{path}") as wh, wh.connect() as conn:
        assert "audit_log" not in sa.inspect(conn).get_table_names()


def test_a_scripted_trading_day_lists_each_event_once(tmp_path, use_duckdb, monkeypatch):
    """The day of the issue: sign in, upload, activate, connect the broker, an admin arms the kill switch, the
    daily job runs two sessions and trips it; the operator's audit page lists each of these events once."""
    from streamlit import config as st_config

    from dashboards import auth
    from tests.dashboards.door import add_users
    from tests.fakes.alpaca_server import FakeAlpacaServer
    from tests.orchestration.credentials_helpers import key_text
    from warehouse import Warehouse
    from warehouse.repos import users as user_repo

    path = use_duckdb(tmp_path / "day.duckdb")
    monkeypatch.setenv("ORAGAMI_WAREHOUSE_URL", f"duckdb:///{path}")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv(auth.ENV_AUTH, "on")
    monkeypatch.setenv("ORAGAMI_MASTER_KEY", key_text(b"D1"))
    st_config.set_option("server.address", "127.0.0.1")
    with Warehouse(f"duckdb:///{path}") as wh:
        wh.create_schema()
        user_repo.create_account(wh, "acct-a", "Alice", by=None)
        add_users(wh, ("alice", "root", "ada"))
    upload = ROOT / "symphonies" / "spy_avgo_qqq_nvda_inverse_vol.clj"
    sid = "spy-avgo-qqq-nvda-inverse-vol"

    alice = open_page(sign_in("alice"), LIBRARY)                                       # sign in
    alice.file_uploader(key="library_upload").upload(upload.name, upload.read_bytes(), "text/plain").run()
    alice.button(key="library_register").click().run()                                 # upload
    assert f"Registered `{sid}` as **active**." in texts(alice)
    alice.selectbox(key="library_pick").set_value(sid).run()
    alice.button(key="library_deactivate").click().run()
    alice.selectbox(key="library_pick").set_value(sid).run()
    alice.button(key="library_activate").click().run()                                 # activate
    with FakeAlpacaServer(api_key="PKDAYTEST0001", secret_key="sk-daytest-9f8e7d6c") as fake:
        monkeypatch.setenv("ORAGAMI_ALPACA_URL", fake.url)
        alice = open_page(alice, "app_pages/account_settings.py")                      # connect
        alice.text_input(key="cred_key_id").set_value("PKDAYTEST0001")
        alice.text_input(key="cred_secret").set_value("sk-daytest-9f8e7d6c")
        click(alice, "Validate and save")
        assert "saved encrypted" in texts(alice)
    ada = open_page(sign_in("ada"), "app_pages/admin.py")                               # arm the kill switch
    ada.selectbox(key="admin_gate_pick").set_value("acct-a").run()
    ada.number_input(key="admin_gate_kill").set_value(0.5)
    click(ada, "Save risk gates")
    for session in ("2024-04-12", "2024-04-15"):                                      # run (simulated broker)
        assert oragami(["run-daily", "--session", session]) == 0

    events = _table(open_page(sign_in("root"), AUDIT))
    day = events[~events["action"].isin(["user_created", "account_created"])].iloc[::-1]   # not the set-up
    assert list(zip(day["actor"], day["action"], day["account_id"].fillna(""))) == [
        ("alice", "sign_in_ok", "acct-a"),
        ("alice", "symphony_uploaded", "acct-a"),
        ("alice", "symphony_deactivated", "acct-a"),
        ("alice", "symphony_activated", "acct-a"),
        ("alice", "broker_connected", "acct-a"),
        ("ada", "sign_in_ok", ""),
        ("ada", "risk_gate_changed", "acct-a"),
        ("system", "order_batch_submitted", "acct-a"),                                # run 2024-04-12
        ("system", "kill_switch_tripped", "acct-a"),                                  # run 2024-04-15
        ("system", "order_batch_submitted", "acct-a"),
        ("root", "sign_in_ok", ""),
    ]
    batches = day[day["action"] == "order_batch_submitted"]
    assert list(batches["target"]) == ["2024-04-12", "2024-04-15"]
    assert list(batches["detail"]) == ["4 sent (4 new at the broker), 0 blocked, 0 failed",       # the first buys
                                       "2 sent (2 new at the broker), 2 blocked, 0 failed"]       # sells only
    trip = day[day["action"] == "kill_switch_tripped"].iloc[0]
    assert (trip["target"], trip["origin"]) == ("2024-04-15", "dagster")
    assert trip["detail"] == "lost 1.71% since the last close (limit 0.50%)"
    assert not events.astype(str).apply(lambda c: c.str.contains("sk-daytest")).any().any()   # no secret logged
