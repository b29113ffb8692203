"""Ticker spellings of Composer, Alpaca and EODHD (pure; US equities and ETFs only).

=================  ======================  ===========  ============
What               Composer                Alpaca       EODHD
=================  ======================  ===========  ============
plain              ``SPY``                 ``SPY``      ``SPY.US``
class share        ``BRK/B``               ``BRK.B``    ``BRK-B.US``
Composer long id   ``EQUITIES::SPY//USD``  ``SPY``      ``SPY.US``
=================  ======================  ===========  ============

The canonical form inside the platform is the Composer ticker as :func:`engine.parse_common.normalise_ticker`
leaves it (upper case, ``EQUITIES::``/``//USD`` stripped, class shares with ``/``). ``to_*`` accept any of the
spellings (``BRK/B``, ``BRK.B``, ``BRK-B``, ``EQUITIES::BRK/B//USD``) and ``from_*`` always return the canonical
form, so ``from_x(to_x(t)) == canonical(t)``.

Crypto (``CRYPTO::BTC//USD``) is not served by the stock endpoints these mappings are for; it raises ``ValueError``.
"""
from __future__ import annotations

import re

EODHD_EXCHANGE = "US"

_EQUITY_PREFIX = "EQUITIES::"
_USD_SUFFIX = "//USD"
#: A canonical Composer equity ticker: letters/digits, optionally one class-share part after ``/``.
_CANONICAL = re.compile(r"^[A-Z0-9]+(?:/[A-Z0-9]+)?$")
_EODHD = re.compile(r"^(?P<code>[A-Z0-9]+(?:-[A-Z0-9]+)?)(?:\.(?P<exchange>[A-Z]+))?$")


def canonical(ticker: str) -> str:
    """The platform's spelling of a US equity ticker (``EQUITIES::BRK.B//USD`` → ``BRK/B``).

    Raises:
        ValueError: empty, crypto, or not a ticker (names the value).
    """
    if not isinstance(ticker, str) or not ticker.strip():
        raise ValueError(f"empty ticker: {ticker!r}")
    t = ticker.strip().upper()
    if t.startswith("CRYPTO::"):
        raise ValueError(f"crypto ticker {ticker!r} has no stock-market spelling")
    if t.startswith(_EQUITY_PREFIX):
        t = t[len(_EQUITY_PREFIX):]
        if t.endswith(_USD_SUFFIX):
            t = t[: -len(_USD_SUFFIX)]
    # Class shares: Composer writes BRK/B, Alpaca BRK.B, EODHD (without the exchange) BRK-B.
    t = re.sub(r"[.\-]", "/", t)
    if not _CANONICAL.match(t):
        raise ValueError(f"not a US equity ticker: {ticker!r}")
    return t


def to_alpaca(ticker: str) -> str:
    """Alpaca symbol of a Composer ticker: ``BRK/B`` → ``BRK.B``, ``EQUITIES::SPY//USD`` → ``SPY``."""
    return canonical(ticker).replace("/", ".")


def from_alpaca(symbol: str) -> str:
    """Composer ticker of an Alpaca symbol: ``BRK.B`` → ``BRK/B``."""
    return canonical(symbol)


def to_eodhd(ticker: str, exchange: str = EODHD_EXCHANGE) -> str:
    """EODHD symbol (``CODE.EXCHANGE``) of a Composer ticker: ``BRK/B`` → ``BRK-B.US``, ``SPY`` → ``SPY.US``."""
    return f"{canonical(ticker).replace('/', '-')}.{exchange.upper()}"


def from_eodhd(symbol: str) -> str:
    """Composer ticker of an EODHD symbol: ``BRK-B.US`` → ``BRK/B`` (the exchange suffix is optional).

    Raises:
        ValueError: not an EODHD symbol, or an exchange other than ``US`` (a foreign listing is a different asset).
    """
    if not isinstance(symbol, str):
        raise ValueError(f"not an EODHD symbol: {symbol!r}")
    m = _EODHD.match(symbol.strip().upper())
    if not m:
        raise ValueError(f"not an EODHD symbol: {symbol!r}")
    if m["exchange"] not in (None, EODHD_EXCHANGE):
        raise ValueError(f"EODHD symbol {symbol!r} is not a US listing")
    return canonical(m["code"])


__all__ = ["EODHD_EXCHANGE", "canonical", "to_alpaca", "from_alpaca", "to_eodhd", "from_eodhd"]
