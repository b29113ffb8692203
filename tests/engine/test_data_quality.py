"""engine.data_quality: hand-made series with known findings, then the bundle's own known problems by name and date
(../shared/data/bars/SOURCES.md)."""
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from engine.data_quality import LEVERAGE, check_closes, coverage, move_bound
from warehouse.prices import BundledCloseReader

S = [dt.date(2024, 1, d) for d in (2, 3, 4, 5, 8, 9, 10, 11)]  # eight sessions (Jan 2024, XNYS)


def _long(series: dict[str, list]) -> pd.DataFrame:
    """series: ticker -> list of closes aligned with S (None = no row)."""
    rows = [(S[i], t, v) for t, vals in series.items() for i, v in enumerate(vals) if v is not None]
    return pd.DataFrame(rows, columns=["session_date", "ticker", "adj_close"])


def test_clean_series_has_no_findings():
    rep = check_closes(_long({"SPY": [100, 101, 99, 100, 102, 103, 104, 105]}), sessions=S)
    assert rep.clean and rep.counts() == {"stale": 0, "gap": 0, "non_positive": 0, "jump": 0}
    assert rep.tickers == ("SPY",) and rep.last_session == S[-1]


def test_stale_series_counts_sessions_behind_the_data():
    rep = check_closes(_long({"SPY": [1, 1, 1, 1, 1, 1, 1, 1], "GONE": [1, 1, 1, 1, 1, None, None, None]}),
                       sessions=S)
    [f] = rep.of_kind("stale")
    assert (f.ticker, f.session_date, f.value) == ("GONE", S[4], 3.0)
    assert "3 session(s) before the data's last session 2024-01-11" in f.detail


def test_stale_against_an_explicit_last_session():
    rep = check_closes(_long({"SPY": [1] * 8}), sessions=S + [dt.date(2024, 1, 12)], last_session="2024-01-12")
    assert [(f.ticker, f.value) for f in rep.of_kind("stale")] == [("SPY", 1.0)]


def test_interior_gaps_are_runs_of_missing_sessions():
    rep = check_closes(_long({"HOLE": [None, 5, None, None, 5, None, 5, 5]}), sessions=S)
    gaps = rep.of_kind("gap")
    assert [(g.session_date, g.value) for g in gaps] == [(S[2], 2.0), (S[5], 1.0)]
    assert gaps[0].detail == "no bar on 2 sessions 2024-01-04..2024-01-05"
    assert gaps[1].detail == "no bar on 2024-01-09"
    # before the first bar is not a gap; coverage counts the same three missing sessions
    cov = coverage(_long({"HOLE": [None, 5, None, None, 5, None, 5, 5]}), sessions=S, source="mine")
    assert cov.to_dict("records") == [{"ticker": "HOLE", "first": S[1], "last": S[7], "rows": 4,
                                       "interior_gaps": 3, "source": "mine"}]


def test_default_calendar_is_xnys_with_its_holidays():
    # 2024-01-12 (Fri) → 2024-01-16 (Tue): Monday the 15th is MLK day, not a gap; 2024-01-17 missing is one
    days = [dt.date(2024, 1, 12), dt.date(2024, 1, 16), dt.date(2024, 1, 18)]
    rep = check_closes(pd.DataFrame({"session_date": days, "ticker": "X", "adj_close": [1.0, 1.0, 1.0]}))
    assert [(g.session_date, g.value) for g in rep.of_kind("gap")] == [(dt.date(2024, 1, 17), 1.0)]


def test_non_positive_values_are_findings_and_not_jumps():
    rep = check_closes(_long({"BAD": [10, 0.0, 10, -1.0, 10, np.nan, 10, 10]}), sessions=S)
    assert [(f.session_date, f.value) for f in rep.of_kind("non_positive")][:2] == [(S[1], 0.0), (S[3], -1.0)]
    assert np.isnan(rep.of_kind("non_positive")[2].value)
    assert rep.of_kind("jump") == []  # moves are measured between valid closes only: 10 → 10


def test_jump_bound_is_60_percent_times_leverage():
    assert move_bound("SPY") == pytest.approx(0.60)
    assert move_bound("TQQQ") == pytest.approx(1.80) and LEVERAGE["TQQQ"] == 3
    assert move_bound("UVXY") == pytest.approx(0.90)
    assert move_bound("SVXY") == pytest.approx(0.60)  # sub-1× keeps the 1× bound
    rep = check_closes(_long({
        "SPY": [100, 161, 161, 64, 64, 64, 64, 64],      # +61 % flagged; −60.2 % flagged
        "QQQ": [100, 160, 160, 160, 64, 64, 64, 64],     # +60 % and −60 % exactly: not beyond the bound
        "TQQQ": [100, 250, 250, 250, 250, 710, 710, 710],  # +150 % inside 3× bound; +184 % beyond it
        "HUB": [10, 10, 10, 10, 100, 100, 100, 100],     # ×10: like an unadjusted split
        "HALF": [80, 80, 40, 40, 40, 40, 40, 41],        # −50 %: inside the bound but exactly a 2:1 split
        "SOXL": [30, 30, 30, 30.6, 30.6, 30.6, 30.6, 15],  # −51 %, 1:2 within 2 %: reported at 3× too
    }), sessions=S)
    jumps = [(f.ticker, f.session_date, round(f.value, 4)) for f in rep.of_kind("jump")]
    assert jumps == [("HALF", S[2], -0.5), ("HUB", S[4], 9.0), ("SOXL", S[7], -0.5098), ("SPY", S[1], 0.61),
                     ("SPY", S[3], -0.6025), ("TQQQ", S[5], 1.84)]
    assert rep.of_kind("jump")[0].detail.endswith("like an unadjusted split (ratio 1:2)")
    hub = rep.of_kind("jump")[1]
    assert hub.detail == "+900.0% from 2024-01-05 (bound ±60% for 1×), like an unadjusted split (ratio 10:1)"
    assert "bound ±180% for 3×" in rep.of_kind("jump")[5].detail


def test_unknown_check_name_is_an_error():
    with pytest.raises(ValueError, match="unknown data-quality check splits"):
        check_closes(_long({"SPY": [1] * 8}), kinds=["splits"])


def test_report_frame_and_metadata():
    rep = check_closes(_long({"SPY": [100, 200, 200, 200, 200, 200, 200, 200], "OLD": [1, 1, None, 1, 1, 1, 1,
                                                                                       None]}), sessions=S)
    assert rep.to_frame()[["kind", "ticker"]].values.tolist() == [["stale", "OLD"], ["gap", "OLD"], ["jump", "SPY"]]
    meta = rep.metadata()
    assert meta["clean"] is False and meta["jump_count"] == 1 and meta["non_positive"] == "none"
    assert meta["gap"] == "OLD 2024-01-04: no bar on 2024-01-04"


# ---------------------------------------------------------------------------------------------------------------
# The bundle: SOURCES.md lists these problems; the check must report every one of them
# ---------------------------------------------------------------------------------------------------------------

#: ../shared/data/bars/SOURCES.md, "Extension 2": a scan for moves above +150 % or below −75 % found 38 tickers.
SCAN_38 = ("ABVX AGX ALT AXSM BKKT BMNR CELC CLSK DFEN DRUG DVLT ELLO ERII EVO FFAI GEVO GSIT HUBB INOD LPTH LUNR "
           "MDGL MUD MVST NNDM NRSN PLRX PRAX QMCO QUBT QURE RZLT SERV SIDU SLS SRPT TMQ XFOR").split()


@pytest.fixture(scope="module")
def bundle_report():
    reader = BundledCloseReader()
    return check_closes(reader.long_closes(), last_session=reader.last_session())


def test_bundle_check_lists_the_38_split_like_tickers_of_sources_md(bundle_report):
    assert len(SCAN_38) == 38
    jumps = {(f.ticker, f.session_date): f for f in bundle_report.of_kind("jump")}
    assert set(SCAN_38) <= {t for t, _ in jumps}
    # a few by name and date, with the move SOURCES.md gives
    expected = {("HUBB", dt.date(1994, 10, 31)): 8.86, ("DRUG", dt.date(2024, 10, 15)): 14.46,
                ("FFAI", dt.date(2026, 7, 23)): 95.43, ("DFEN", dt.date(2024, 6, 4)): 1.84,
                ("MUD", dt.date(2026, 3, 5)): -0.90, ("QUBT", dt.date(2018, 7, 6)): 20.33,
                ("BMNR", dt.date(2025, 6, 30)): 6.95}
    for key, move in expected.items():
        assert jumps[key].value == pytest.approx(move, abs=0.005), key
    assert "like an unadjusted split (ratio 10:1)" in jumps[("HUBB", dt.date(1994, 10, 31))].detail
    assert "bound ±180% for 3×" in jumps[("DFEN", dt.date(2024, 6, 4))].detail  # DFEN is a 3× fund


def test_bundle_stale_series_and_interior_gaps(bundle_report):
    assert bundle_report.last_session == dt.date(2026, 7, 31)
    # YINN and TSLR come from the 2026-07-14 snapshot and end 2026-07-13 (SOURCES.md, extension 1)
    assert [(f.ticker, f.session_date, f.value) for f in bundle_report.of_kind("stale")] == [
        ("TSLR", dt.date(2026, 7, 13), 14.0), ("YINN", dt.date(2026, 7, 13), 14.0)]
    # bad prints dropped by the compiler (BTAL, FTLS), RCAT's two missing days, and two single-day holes
    assert [(f.ticker, f.session_date) for f in bundle_report.of_kind("gap")] == [
        ("BTAL", dt.date(2015, 4, 29)), ("FFAI", dt.date(2026, 7, 22)), ("FTLS", dt.date(2014, 12, 10)),
        ("HUBB", dt.date(1977, 8, 8)), ("RCAT", dt.date(2002, 3, 26)), ("RCAT", dt.date(2002, 3, 28))]
    assert bundle_report.of_kind("non_positive") == []
    # the leveraged table keeps real leveraged-ETF crash days out: ERX −60.1 % on 2020-03-09 (then 3×)
    assert not any(f.ticker == "ERX" for f in bundle_report.of_kind("jump"))
