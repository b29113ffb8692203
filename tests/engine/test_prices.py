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
