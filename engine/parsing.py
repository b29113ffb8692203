"""Read a symphony in any of Composer's encodings into the typed model (composer_format.md §1–§4).

Public API::

    parse_symphony(text, source=None, fmt=None) -> Root   # fmt: 'json' | 'edn' | 'defsymphony' | None (detect)
    load_symphony(path) -> Root                           # reads the file, detects the format, errors name the file
    parse_json_score(obj, source=None) -> Root            # decoded JSON: bare score or a wrapper (see below)
    parse_edn_score(text, source=None) -> Root            # internal EDN score / *.backtest_request.edn.txt
    parse_defsymphony(text, source=None) -> Root          # "copy symphony as code" text
    detect_format(text) -> str                            # 'json' | 'edn' | 'defsymphony'

Accepted JSON shapes: the bare score, ``{"symphony": {"raw_value": score}}``, ``{"raw_value": score}`` and the
captured request+response wrapper (``_request_body.symphony.raw_value``).

Errors are :class:`~engine.errors.SymphonyParseError` naming (when known) the file, the node path
(``root/0/2/1``, child indices from the root; an ``if``'s then-branch is ``<if>/0``, its else-branch ``<if>/1``) and
the field. Documented repairs — specified weights not summing to 1 (normalised), NaN weights (treated as 0) — emit a
:class:`~engine.errors.SymphonyWarning` via :mod:`warnings`. The rules themselves are listed in
:mod:`engine.parse_json`, :mod:`engine.parse_defsymphony` and :func:`engine.parse_common.finalize_weights`.
"""
from __future__ import annotations

import json
import os
import re
from typing import Any, Callable, TypeVar

from engine.errors import SymphonyError, SymphonyParseError, SymphonyWarning
from engine.model import Root
from engine.parse_common import WEIGHT_SUM_TOLERANCE, normalise_ticker
from engine.parse_defsymphony import parse_defsymphony_text
from engine.parse_json import parse_score_object, read_edn_score_text

__all__ = [
    "FORMATS",
    "SymphonyParseError",
    "SymphonyWarning",
    "WEIGHT_SUM_TOLERANCE",
    "detect_format",
    "load_symphony",
    "normalise_ticker",
    "parse_defsymphony",
    "parse_edn_score",
    "parse_json_score",
    "parse_symphony",
]

FORMATS = ("json", "edn", "defsymphony")

_JSON_STEP = re.compile(r'"(step|raw_value|symphony|_request_body)"\s*:')
_EDN_STEP = re.compile(r"(?<![\w\"?-]):(step|symphony)\b")

T = TypeVar("T")


def _with_source(source: str | None, fn: Callable[[], T]) -> T:
    """Run ``fn`` and put ``source`` on any :class:`SymphonyError` it raises."""
    try:
        return fn()
    except SymphonyError as exc:
        if source and not exc.source:
            raise exc.with_source(source) from exc
        raise


def _strip_leading(text: str) -> str:
    """Text without BOM, leading whitespace and leading ``;`` comment lines (defsymphony files may start with one)."""
    s = text.lstrip("\ufeff").lstrip()
    while s.startswith(";"):
        newline = s.find("\n")
        s = "" if newline < 0 else s[newline + 1:].lstrip()
    return s


def detect_format(text: str) -> str:
    """Guess the encoding of ``text``: ``'json'``, ``'edn'`` or ``'defsymphony'``.

    ``(`` → defsymphony; a leading ``"`` → EDN wrapped in a JSON string (``*.backtest_request.edn.txt``); ``{``/``[``
    → JSON if a quoted ``"step"``/``"raw_value"``/``"symphony"`` key appears, EDN if a ``:step``/``:symphony``
    keyword does, otherwise JSON (so that the JSON decoder reports what is wrong).
    """
    s = _strip_leading(text)
    if not s:
        raise SymphonyParseError("empty input: no symphony text")
    first = s[0]
    if first == "(":
        return "defsymphony"
    if first == '"':
        return "edn"
    if first in "{[":
        json_match = _JSON_STEP.search(s)
        edn_match = _EDN_STEP.search(s)
        if edn_match and (not json_match or edn_match.start() < json_match.start()):
            return "edn"
        return "json"
    raise SymphonyParseError(
        f"cannot detect the symphony format: text starts with {s[:20]!r} "
        "(expected '{' for a JSON/EDN score or '(defsymphony' for defsymphony text)")


def parse_json_score(obj: Any, *, source: str | None = None) -> Root:
    """Parse a decoded JSON score (bare, ``{"symphony":{"raw_value":…}}``, ``{"raw_value":…}`` or the
    ``_request_body.symphony.raw_value`` request+response wrapper)."""
    return _with_source(source, lambda: parse_score_object(obj, source))


def parse_edn_score(text: str, *, source: str | None = None) -> Root:
    """Parse the internal EDN score (``{:step :root …}``), an EDN backtest request (``{… :symphony {…}}``), or such a
    request wrapped in a JSON string (``*.backtest_request.edn.txt``)."""
    return _with_source(source, lambda: parse_score_object(read_edn_score_text(text), source))


def parse_defsymphony(text: str, *, source: str | None = None) -> Root:
    """Parse Composer's defsymphony text (``(defsymphony "Name" {…} (weight-equal […]))``)."""
    return _with_source(source, lambda: parse_defsymphony_text(text, source))


def _decode_json(text: str) -> Any:
    try:
        return json.loads(text.lstrip("\ufeff"))
    except json.JSONDecodeError as exc:
        raise SymphonyParseError(f"malformed JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc


def parse_symphony(text: str, *, source: str | None = None, fmt: str | None = None) -> Root:
    """Parse symphony ``text`` in format ``fmt`` (``'json'``, ``'edn'``, ``'defsymphony'``; ``None`` = detect)."""
    if not isinstance(text, str):
        raise TypeError(f"parse_symphony expects str, got {type(text).__name__}")

    def run() -> Root:
        kind = detect_format(text) if fmt is None else fmt
        if kind == "json":
            obj = _decode_json(text)
            if isinstance(obj, str):  # a JSON string holding an EDN request (upstream *.json of that shape)
                return parse_score_object(read_edn_score_text(obj), source)
            return parse_score_object(obj, source)
        if kind == "edn":
            return parse_score_object(read_edn_score_text(text), source)
        if kind == "defsymphony":
            return parse_defsymphony_text(text, source)
        raise SymphonyParseError(f"unknown format {kind!r} (expected one of {', '.join(FORMATS)})")

    return _with_source(source, run)


def load_symphony(path: str | os.PathLike) -> Root:
    """Read the file at ``path`` (UTF-8, BOM allowed), detect its format and parse it; errors name the file."""
    source = os.fspath(path)
    with open(source, "rb") as fh:
        data = fh.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SymphonyParseError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", source=source) from exc
    return parse_symphony(text, source=source)
