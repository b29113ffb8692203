import numpy as np
import pandas as pd

from engine.prices import fill_interior_gaps


def test_only_interior_gaps_are_filled():
    idx = pd.DatetimeIndex(pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"]))
    nan = np.nan
    raw = pd.DataFrame({"LATE": [nan, 5.0, nan, 6.0, 7.0], "GONE": [1.0, nan, 2.0, nan, nan]}, index=idx)
    out = fill_interior_gaps(raw)
    assert out["LATE"].tolist()[1:] == [5.0, 5.0, 6.0, 7.0] and np.isnan(out["LATE"].iloc[0])
    assert out["GONE"].tolist()[:3] == [1.0, 1.0, 2.0] and out["GONE"].iloc[3:].isna().all()


# ---------------------------------------------------------------------------------------------------------------
# The CloseReader contract, on the in-memory reader (hand-made frames; every expected number written out)
# ---------------------------------------------------------------------------------------------------------------
import datetime as dt  # noqa: E402

import pytest  # noqa: E402

from engine.errors import DataError  # noqa: E402
from engine.prices import CloseReader, InMemoryCloseReader, UnknownTickersError, wide_to_long  # noqa: E402

D = [dt.date(2024, 1, d) for d in (2, 3, 4, 5, 8, 9)]


def _long(rows):
    return pd.DataFrame(rows, columns=["session_date", "ticker", "adj_close"])


@pytest.fixture
def reader():
    # AAA every session; BBB starts on D[1], misses D[3] (interior gap), ends on D[4]
    rows = [(d, "AAA", 10.0 + i) for i, d in enumerate(D)]
    rows += [(D[1], "BBB", 50.0), (D[2], "BBB", 51.0), (D[4], "BBB", 53.0)]
    return InMemoryCloseReader(_long(rows), source="test")


def test_in_memory_reader_satisfies_the_protocol(reader):
    assert isinstance(reader, CloseReader)
    assert reader.available_tickers() == frozenset({"AAA", "BBB"})
    assert reader.last_session() == D[5]


def test_closes_shape_order_and_gap_rule(reader):
    out = reader.closes(["BBB", "AAA", "BBB"])
    assert list(out.columns) == ["BBB", "AAA"]  # order given, duplicate dropped
    assert out.index.name == "session_date" and list(out.index.date) == D
    assert out["AAA"].tolist() == [10.0, 11.0, 12.0, 13.0, 14.0, 15.0]
    bbb = out["BBB"].tolist()
    assert np.isnan(bbb[0])  # before its first bar
    assert bbb[1:5] == [50.0, 51.0, 51.0, 53.0]  # D[3] carries D[2]'s close
    assert np.isnan(bbb[5])  # after its last bar: never a frozen price
    assert out.dtypes.unique().tolist() == [np.dtype("float64")]


def test_sessions_are_those_of_the_requested_tickers(reader):
    out = reader.closes(["BBB"])
    assert list(out.index.date) == [D[1], D[2], D[4]]  # no row for a session only AAA has


def test_start_cuts_after_the_gap_rule_end_bounds_the_history(reader):
    out = reader.closes(["AAA", "BBB"], start=D[3], end=D[4])
    assert list(out.index.date) == [D[3], D[4]]
    assert out["BBB"].tolist() == [51.0, 53.0]  # D[3] filled from D[2], a session before the window
    # with end before BBB's next bar, D[3] is *after* its last bar up to end: NaN, not filled
    cut = reader.closes(["AAA", "BBB"], end=D[3])
    assert np.isnan(cut.loc[pd.Timestamp(D[3]), "BBB"])


def test_unknown_ticker_is_an_error_naming_it_and_the_source(reader):
    with pytest.raises(UnknownTickersError) as err:
        reader.closes(["AAA", "ZZZ", "YYY"])
    assert str(err.value) == "tickers not in the test data: YYY, ZZZ"
    assert err.value.tickers == ["YYY", "ZZZ"]
    assert isinstance(err.value, DataError) and isinstance(err.value, KeyError)


def test_duplicate_close_is_an_error():
    dup = InMemoryCloseReader(_long([(D[0], "AAA", 1.0), (D[0], "AAA", 2.0)]), source="dup")
    with pytest.raises(DataError, match="more than one close for AAA on 2024-01-02"):
        dup.closes(["AAA"])


def test_wide_input_and_long_view_round_trip(reader):
    wide = reader.closes(["AAA", "BBB"])
    again = InMemoryCloseReader(wide)
    long = again.long_closes(["BBB"])
    # the wide frame was already filled, so BBB's D[3] is now a stored row; NaN cells are not rows
    assert long["session_date"].tolist() == [D[1], D[2], D[3], D[4]]
    assert long["adj_close"].tolist() == [50.0, 51.0, 51.0, 53.0]
    assert wide_to_long(wide).shape == (10, 3)
    assert reader.long_closes(["AAA"], start=D[4])["adj_close"].tolist() == [14.0, 15.0]
