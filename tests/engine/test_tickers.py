"""Ticker spellings: Composer ↔ Alpaca ↔ EODHD (engine.tickers)."""
import pytest

from engine.tickers import canonical, from_alpaca, from_eodhd, to_alpaca, to_eodhd


@pytest.mark.parametrize("composer, alpaca, eodhd", [
    ("SPY", "SPY", "SPY.US"),
    ("BRK/B", "BRK.B", "BRK-B.US"),
    ("BF/B", "BF.B", "BF-B.US"),
    ("TQQQ", "TQQQ", "TQQQ.US"),
])
def test_round_trips(composer, alpaca, eodhd):
    assert to_alpaca(composer) == alpaca
    assert to_eodhd(composer) == eodhd
    assert from_alpaca(alpaca) == composer
    assert from_eodhd(eodhd) == composer
    assert from_alpaca(to_alpaca(composer)) == composer
    assert from_eodhd(to_eodhd(composer)) == composer


@pytest.mark.parametrize("spelling", ["EQUITIES::BRK/B//USD", "brk/b", " BRK.B ", "BRK-B", "EQUITIES::BRK.B//USD"])
def test_every_spelling_of_a_class_share_maps_to_the_same_symbols(spelling):
    assert canonical(spelling) == "BRK/B"
    assert to_alpaca(spelling) == "BRK.B"
    assert to_eodhd(spelling) == "BRK-B.US"


def test_composer_long_id_and_exchange_suffix():
    assert to_alpaca("EQUITIES::SPY//USD") == "SPY"
    assert to_eodhd("EQUITIES::SPY//USD") == "SPY.US"
    assert from_eodhd("SPY") == "SPY"  # the exchange suffix is optional
    assert from_eodhd("brk-b.us") == "BRK/B"


@pytest.mark.parametrize("bad", ["", "   ", "CRYPTO::BTC//USD", "SPY US", "BRK/B/C", "$SPY", None])
def test_bad_tickers_raise_naming_the_value(bad):
    with pytest.raises(ValueError):
        to_alpaca(bad)
    with pytest.raises(ValueError):
        to_eodhd(bad)


def test_from_eodhd_rejects_foreign_listings():
    with pytest.raises(ValueError, match="not a US listing"):
        from_eodhd("BMW.XETRA")
    with pytest.raises(ValueError, match="not an EODHD symbol"):
        from_eodhd("BRK-B.US.X")
