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

Hostile input: whatever the text or bytes (truncated, bit-flipped, nested 1,000 deep, 50 MB, NaN/Infinity/huge
numbers, wrong types, lists as EDN map keys, non-UTF-8, empty), the public functions raise only
:class:`~engine.errors.SymphonyParseError` (or its subclass :class:`~engine.errors.SymphonyLimitError`) naming the
file and, where known, the node path and field. The size, nesting, form-count and node-count limits of
:mod:`engine.parse_common` are checked before decoding (a file over the size limit is refused from its size,
without being read). As a last line of defence, any other exception escaping the parsers is reported as a
:class:`SymphonyParseError` whose message starts with :data:`UNEXPECTED` (the fuzz tests assert that this never
happens).
"""
from __future__ import annotations

import json
import os
import re
from typing import Any, Callable, TypeVar

from engine.errors import SymphonyError, SymphonyLimitError, SymphonyParseError, SymphonyWarning
from engine.model import Root
from engine.parse_common import MAX_INPUT_BYTES, WEIGHT_SUM_TOLERANCE, check_text_limits, normalise_ticker
from engine.parse_defsymphony import parse_defsymphony_text
from engine.parse_json import parse_score_object, read_edn_score_text

__all__ = [
    "FORMATS",
    "SymphonyLimitError",
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

#: Start of the message of a :class:`SymphonyParseError` that wraps an exception the parsers did not anticipate.
UNEXPECTED = "unexpected error while reading the symphony"


def _with_source(source: str | None, fn: Callable[[], T]) -> T:
    """Run ``fn`` and put ``source`` on any :class:`SymphonyError` it raises; any other exception (a parser bug on
    hostile input) becomes a :class:`SymphonyParseError` starting with :data:`UNEXPECTED`."""
    try:
        return fn()
    except SymphonyError as exc:
        if source and not exc.source:
            raise exc.with_source(source) from exc
        raise
    except RecursionError as exc:
        raise SymphonyLimitError("symphony nested too deeply", source=source) from exc
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError, UnicodeError) as exc:
        raise SymphonyParseError(f"{UNEXPECTED}: {type(exc).__name__}: {exc}", source=source) from exc


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
    def run() -> Root:
        _check_text(text)
        return parse_score_object(read_edn_score_text(text), source)

    return _with_source(source, run)


def parse_defsymphony(text: str, *, source: str | None = None) -> Root:
    """Parse Composer's defsymphony text (``(defsymphony "Name" {…} (weight-equal […]))``)."""
    def run() -> Root:
        _check_text(text)
        return parse_defsymphony_text(text, source)

    return _with_source(source, run)


def _check_text(text: Any) -> None:
    if not isinstance(text, str):
        raise SymphonyParseError(f"expected symphony text (str), got {type(text).__name__}")
    check_text_limits(text)


def _decode_json(text: str) -> Any:
    try:
        return json.loads(text.lstrip("\ufeff"))
    except json.JSONDecodeError as exc:
        raise SymphonyParseError(f"malformed JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc
    except ValueError as exc:  # e.g. an integer literal longer than Python's int-conversion digit limit
        raise SymphonyParseError(f"malformed JSON: {exc}") from exc


def parse_symphony(text: str, *, source: str | None = None, fmt: str | None = None) -> Root:
    """Parse symphony ``text`` in format ``fmt`` (``'json'``, ``'edn'``, ``'defsymphony'``; ``None`` = detect)."""
    if not isinstance(text, str):
        raise TypeError(f"parse_symphony expects str, got {type(text).__name__}")

    def run() -> Root:
        check_text_limits(text)
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
    """Read the file at ``path`` (UTF-8, BOM allowed), detect its format and parse it; errors name the file.

    Raises:
        SymphonyLimitError: the file is larger than :data:`engine.parse_common.MAX_INPUT_BYTES` (refused from its
            size, before reading), or over another limit.
        SymphonyParseError: not UTF-8, empty, or not a well-formed symphony.
        OSError: the file cannot be opened.
    """
    source = os.fspath(path)
    try:
        size = os.stat(source).st_size
    except OSError:
        size = 0  # let open() report the problem
    if size > MAX_INPUT_BYTES:
        raise SymphonyLimitError(f"input too large: {size:,} bytes (limit {MAX_INPUT_BYTES:,} bytes)", source=source)
    with open(source, "rb") as fh:
        data = fh.read(MAX_INPUT_BYTES + 1)
    if len(data) > MAX_INPUT_BYTES:
        raise SymphonyLimitError(f"input too large: more than {MAX_INPUT_BYTES:,} bytes", source=source)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SymphonyParseError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", source=source) from exc
    return parse_symphony(text, source=source)
