"""Re-checking a stored symphony tree against today's parse-time bounds (pure).

A tree stored before the parsers bounded windows (:data:`engine.functions.MAX_WINDOW`) deserialises fine but
would overflow later (a window of 2^31 once stopped every account's day). :func:`load_stored` parses the stored
``parsed_json`` and checks every window-like integer in the tree, naming the node path, the field and the
ticker, so the daily graph can fail that one symphony at "parse of stored row" while every other one trades.
"""
from __future__ import annotations

from typing import Any

from engine.errors import SymphonyLimitError
from engine.functions import MAX_WINDOW
from engine.model import Root

#: Integer fields of a node or indicator that count trading days.
WINDOW_FIELDS = frozenset({"window", "sort_window", "window_days"})


def _walk(value: Any, path: str, ticker: str | None, out: list[str]) -> None:
    if isinstance(value, dict):
        path = value["path"] if isinstance(value.get("path"), str) else path
        ticker = value["ticker"] if isinstance(value.get("ticker"), str) else ticker
        where = f" of {ticker}" if ticker else ""
        for key, v in value.items():
            if key in WINDOW_FIELDS and isinstance(v, int) and not isinstance(v, bool) and not 1 <= v <= MAX_WINDOW:
                out.append(f"node {path}: field {key!r}{where} is {v}, outside [1, {MAX_WINDOW}] trading days")
            elif key in ("params", "sort_params") and isinstance(v, (list, tuple)):
                for pair in v:
                    if isinstance(pair, (list, tuple)) and len(pair) == 2 and isinstance(pair[1], int) \
                            and not 1 <= pair[1] <= MAX_WINDOW:
                        out.append(f"node {path}: param {pair[0]!r}{where} is {pair[1]}, outside [1, {MAX_WINDOW}]")
            elif isinstance(v, (dict, list, tuple)):
                _walk(v, path, ticker, out)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _walk(v, path, ticker, out)


def bound_violations(root: Root) -> list[str]:
    """Every window-like integer of the tree outside ``[1, MAX_WINDOW]``, as ``"node root/0/1: field 'window' of SPY
    is 2147483648, outside [1, 10000] trading days"`` (empty when the tree is within bounds)."""
    out: list[str] = []
    _walk(root.model_dump(), "root", None, out)
    return out


def load_stored(parsed_json: str) -> Root:
    """The stored tree, checked against today's bounds.

    Raises:
        pydantic.ValidationError: the JSON is not a tree of :mod:`engine.model`.
        SymphonyLimitError: a window is out of bounds (the message names node path, field and ticker).
    """
    root = Root.model_validate_json(parsed_json)
    bad = bound_violations(root)
    if bad:
        raise SymphonyLimitError("; ".join(bad))
    return root
