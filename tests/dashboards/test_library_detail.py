"""Symphony library and detail: tree DOT, description, upload validation, activation limit, and the pages."""
from __future__ import annotations

import datetime as dt
import time

import pandas as pd
import pytest
from dashboards import auth
from dashboards.present import tree
from dashboards.reads import library as lib_reads
from engine import describe
from engine.model import tickers
from engine.parsing import load_symphony
from tests.dashboards.door import ROOT, add_users, open_app, open_page, sign_in
from warehouse import Warehouse
from warehouse.repos import symphonies as symphony_repo
from warehouse.bundled import load_adjusted_closes

SYMPHONIES = ROOT / "symphonies"


def test_describe_sector_surfing():
    root = load_symphony(SYMPHONIES / "sector_surfing_rsi_bottom2.clj")
    assert describe.describe(root) == ("Rebalances daily. Holds the 2 assets with the lowest 14-day RSI among SPY, "
                                       "VEA, EEM, TLT, GLD and VNQ, in equal weight.")


def test_describe_nested_ifs():
    text = describe.describe(load_symphony(SYMPHONIES / "tqqq_ftlt_v2_226.clj"))
    assert text.startswith("Rebalances daily.\n\n- If SPY's price is above its 200-day moving average:\n"
                           "  - If TQQQ's 10-day RSI is above 79, holds UVXY.")
    assert "  - If TQQQ's 10-day RSI is below 31, holds TECL." in text


def test_tree_dot_words():
    dot = tree.tree_dot(load_symphony(SYMPHONIES / "sector_surfing_rsi_bottom2.clj"))
    assert dot.startswith("digraph symphony {")
    assert 'n_root_0 [label="equal weight"]' in dot
    assert 'label="bottom 2 by RSI 14d"' in dot
    assert "n_root_0 -> n_root_0_0;" in dot and 'label="VNQ"' in dot
    inv = tree.tree_dot(load_symphony(SYMPHONIES / "spy_avgo_qqq_nvda_inverse_vol.clj"))
    assert "inverse volatility 15d" in inv
    tq = tree.tree_dot(load_symphony(SYMPHONIES / "tqqq_ftlt_v2_226.clj"))
    assert 'label="if RSI(TQQQ, 10d) > 79"' in tq and 'label="if price(SPY) > SMA(SPY, 200d)"' in tq


def test_tree_highlights_the_path_of_a_known_day():
    root = load_symphony(SYMPHONIES / "tqqq_ftlt_v2_226.clj")
    closes = load_adjusted_closes(sorted(tickers(root)), end="2022-05-09")
    day = tree.day_path(root, closes, dt.date(2022, 5, 9))
    assert day.session == dt.date(2022, 5, 9) and day.valid
    assert day.weights == {"TECL": pytest.approx(1.0)}
    assert day.trace["root/0/0"]["detail"]["branch"] == "else"
    tecl = [n for n in day.reached if n.startswith("root/0/0/1/0/0/0")]
    assert len(tecl) == 1
    dot = tree.tree_dot(root, day)
    lines = {ln.split(" [")[0].strip(): ln for ln in dot.splitlines() if "[label=" in ln and "->" not in ln}
    assert "→ else" in lines["n_root_0_0"] and tree.REACHED_FILL in lines["n_root_0_0"]
    if_rsi = lines["n_root_0_0_1_0_0"]
    assert "RSI(TQQQ, 10d) = 29.85 < 31: true" in if_rsi and "→ then" in if_rsi and tree.REACHED_FILL in if_rsi
    assert tree.REACHED_FILL in lines["n_" + tecl[0].replace("/", "_")] and "TECL\\n100 %" in dot
    assert tree.REACHED_FILL not in lines["n_root_0_0_0_0"]  # the then branch of the SPY test was not taken


def test_upload_validation():
    bad = (SYMPHONIES / "sector_surfing_rsi_bottom2.clj").read_text().replace("{:window 14}", "{:window -3}")
    check = lib_reads.check_upload(bad.encode(), "bad.clj")
    assert not check.ok and check.node_path == "root/0/0" and check.field == "window"
    assert "window" in check.message
    good = lib_reads.check_upload((SYMPHONIES / "sector_surfing_rsi_bottom2.clj").read_bytes(), "ok.clj")
    assert good.ok and good.fmt == "defsymphony" and good.root.name == "Sector Surfing"
    assert lib_reads.check_upload(b"\xff\xfe", "x.json").message.startswith("not UTF-8")


def test_hostile_uploads_get_the_projects_own_message_fast():
    """Issue 8: a 50 MB upload, 1,000-deep nesting, an unhashable EDN key and a 2^31 window are refused with a
    message (no exception), the large one before it is decoded."""
    t0 = time.perf_counter()
    huge = lib_reads.check_upload(b"{" * 50_000_000, "huge.json")
    assert time.perf_counter() - t0 < 1.0
    assert not huge.ok and huge.message.startswith("file too large: 50,000,000 bytes (limit 5,242,880 bytes")
    deep = lib_reads.check_upload(b"[" * 1000 + b"]" * 1000, "deep.json")
    assert not deep.ok and deep.message.startswith("nested too deeply: 1000 levels of brackets (limit 200)")
    unhashable = lib_reads.check_upload(b'{:step :root :children [] {:a 1} 2}', "key.edn")
    assert not unhashable.ok and unhashable.message
    big_window = (SYMPHONIES / "sector_surfing_rsi_bottom2.clj").read_text().replace("{:window 14}",
                                                                                    "{:window 2147483648}")
    overflow = lib_reads.check_upload(big_window.encode(), "overflow.clj")
    assert not overflow.ok and overflow.node_path == "root/0/0" and "out of bounds" in overflow.message


def test_library_filters():
    lib = pd.DataFrame({"symphony_id": ["a", "b"], "name": ["TQQQ FTLT", "Sectors"], "status": ["active", "inactive"],
                        "tickers": ["SPY, TQQQ", "SPYG, VEA"]})
    assert list(lib_reads.filter_library(lib, "spy")["symphony_id"]) == ["a"]  # SPY matches whole tickers only
    assert list(lib_reads.filter_library(lib, "sect")["symphony_id"]) == ["b"]
    assert list(lib_reads.filter_library(lib, "", "inactive")["symphony_id"]) == ["b"]
    assert lib_reads.usage_label(3, 40) == "3/40 active"


def _row(sid: str) -> dict:
    root = load_symphony(SYMPHONIES / "sector_surfing_rsi_bottom2.clj")
    return {"symphony_id": sid, "name": root.name, "source_format": "defsymphony", "source_text": "(defsymphony)",
            "parsed_json": root.model_dump_json(), "rebalance": root.rebalance}


# -- the pages, signed in through the router's form -----------------------------------------------------------

@pytest.fixture
def with_users(seeded_duckdb, use_duckdb, monkeypatch):
    use_duckdb(seeded_duckdb)
    monkeypatch.setenv(auth.ENV_AUTH, "on")
    with Warehouse(f"duckdb:///{seeded_duckdb}") as wh:
        symphony_repo.register(wh, "acct-a", **_row("surf-a"))
        add_users(wh, ("alice", "root"))
    return seeded_duckdb


def test_login_form_then_pages_render(with_users):
    at = open_app().run()
    assert not at.exception and len(at.sidebar.metric) == 0  # nothing but the form before signing in
    assert not at.get("dataframe") and not at.expander
    at = sign_in("alice", "wrong-pass", at=at)
    assert [e.value for e in at.error] == ["Wrong username or password."]
    at.text_input(key="login_password").set_value("alice-pass-1")
    at.button[0].click().run()
    assert not at.exception
    assert at.session_state["user"] == auth.User("alice", "analyst", "acct-a")  # read, never set, by the test
    assert "**Signed in** as `alice` (analyst)" in [m.value for m in at.sidebar.markdown]
    assert "Account `acct-a`" in [c.value for c in at.sidebar.caption]
    labels = [e.label for e in at.expander]
    assert labels and all("Nasdaq Tilt" not in lab for lab in labels)  # overview scoped to acct-a

    open_page(at, "app_pages/library.py")
    assert not at.exception
    table = at.dataframe[0].value
    assert set(table["account_id"]) == {"acct-a"} and not any("Nasdaq" in o for o in at.selectbox(key="library_pick").options)
    assert [m.value for m in at.main.metric] == ["2/40 active"]

    open_page(at, "app_pages/symphony_detail.py")
    assert not at.exception
    assert set(at.selectbox(key="detail_symphony").options) == {"Sixty Forty", "Retired", "Sector Surfing"}
    at.selectbox(key="detail_symphony").set_value("surf-a")
    at.date_input(key="detail_day").set_value(dt.date(2022, 5, 9)).run()
    assert not at.exception
    assert any("Holds the 2 assets with the lowest 14-day RSI" in m.value for m in at.markdown)
    assert len(at.get("graphviz_chart")) == 1
    # the seeded warehouse has no bars of these tickers: the bundled closes are used, and the page says so
    assert any("Path taken on 2022-05-09" in m.value for m in at.markdown)
    assert any(c.value.startswith("Prices: bundled closes (the warehouse has no bars of") for c in at.caption)

    at.sidebar.button[0].click().run()  # sign out
    assert not at.exception and at.text_input(key="login_username") is not None and not at.expander


def test_operator_sees_every_account_and_can_pick_one(with_users):
    at = open_page(sign_in("root"), "app_pages/library.py")
    assert not at.exception
    assert set(at.dataframe[0].value["account_id"]) == {"acct-a", "acct-b"}
    picker = at.sidebar.selectbox(key="account_pick")
    assert picker.options == ["All accounts", "Alice (acct-a)", "Bob (acct-b)"]
    picker.set_value("acct-b").run()
    assert set(at.dataframe[0].value["account_id"]) == {"acct-b"}


def test_library_activation_buttons(with_users):
    at = open_page(sign_in("alice"), "app_pages/library.py")
    at.selectbox(key="library_pick").set_value("sym-old").run()
    at.button(key="library_activate").click().run()
    assert not at.exception
    assert any("`sym-old` is now active" in s.value for s in at.success)
    with Warehouse(f"duckdb:///{with_users}", read_only=True) as wh:
        assert wh.read("symphonies", where={"symphony_id": "sym-old"})["status"].tolist() == ["active"]


def test_a_page_opened_without_the_router_shows_nothing(with_users):
    """A page file run on its own has no page context: it stops with a message, never "all accounts"."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "dashboards" / "app_pages" / "library.py"), default_timeout=60).run()
    assert not at.exception
    assert [w.value for w in at.warning] == [
        "Open the dashboard through `streamlit run dashboards/streamlit_app.py` and sign in."]
    assert not at.get("dataframe") and not at.main.metric


def test_no_users_shows_the_hint(seeded_duckdb, use_duckdb, monkeypatch):
    use_duckdb(seeded_duckdb)
    monkeypatch.setenv(auth.ENV_AUTH, "on")
    at = open_app().run()
    assert not at.exception
    assert [i.value for i in at.info][0].startswith("No dashboard user yet")
