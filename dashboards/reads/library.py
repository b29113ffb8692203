"""Reads of the Symphony library and detail pages, and the validation of an uploaded file.

Every read takes the signed-in user's :class:`~warehouse.AccountScope` (required; package docstring).
:func:`check_upload` and :func:`filter_library` are pure.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import pandas as pd

from dashboards.reads.common import display_labels
from engine.errors import SymphonyError, SymphonyWarning
from engine.model import Root
from engine.model import tickers as symphony_tickers
from engine.parse_common import MAX_INPUT_BYTES, check_text_limits
from engine.parsing import FORMATS, detect_format, parse_symphony
from warehouse import AccountScope, Warehouse
from warehouse.repos import symphonies as symphony_repo
from warehouse.repos import tenant
from warehouse.scope import require_scope

#: Columns of :func:`library`.
LIBRARY_COLUMNS: tuple[str, ...] = ("symphony_id", "name", "label", "account_id", "status", "rebalance",
                                    "source_format", "tickers", "updated_at")


def parse_stored(parsed_json: Any, source_text: Any, source_format: Any = None) -> Root | None:
    """The model of a stored symphony: ``parsed_json`` when present, else ``source_text`` parsed; ``None`` if
    neither can be read."""
    try:
        if isinstance(parsed_json, str) and parsed_json.strip():
            return Root.model_validate_json(parsed_json)
        if isinstance(source_text, str) and source_text.strip():
            fmt = source_format if source_format in FORMATS else None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SymphonyWarning)
                return parse_symphony(source_text, fmt=fmt)
    except (SymphonyError, ValueError, RecursionError, TypeError):
        return None
    return None


def library(wh: Warehouse, scope: AccountScope) -> pd.DataFrame:
    """The symphonies in scope with the tickers each one reads.

    Returns:
        Columns :data:`LIBRARY_COLUMNS`; ``tickers`` is ``"SPY, TLT"`` (sorted; ``""`` when the stored text cannot
        be read). Ordered by status (active first), account, label, id.
    """
    cols = ["symphony_id", "account_id", "name", "status", "rebalance", "source_format", "source_text",
            "parsed_json", "updated_at"]
    rows = tenant.read(wh, "symphonies", scope, columns=cols)
    ticks = []
    for pj, src, fmt in zip(rows["parsed_json"], rows["source_text"], rows["source_format"]):
        root = parse_stored(pj, src, fmt)
        ticks.append(", ".join(sorted(symphony_tickers(root))) if root is not None else "")
    rows = rows.assign(tickers=pd.Series(ticks, index=rows.index, dtype="str"))
    rows["label"] = rows["symphony_id"].map(display_labels(rows)).astype("str")
    rows = rows.assign(_inactive=rows["status"] != "active", _name=rows["label"].str.lower())
    rows = rows.sort_values(["_inactive", "account_id", "_name", "symphony_id"])
    return rows[list(LIBRARY_COLUMNS)].reset_index(drop=True)


def account_usage(wh: Warehouse, scope: AccountScope) -> pd.DataFrame:
    """Active symphonies against the limit per account in scope:
    ``account_id, name, max_active_symphonies, active`` (counts)."""
    return symphony_repo.active_counts(wh, require_scope(scope))


def usage_label(active: int, limit: int) -> str:
    """``"3/40 active"``."""
    return f"{int(active)}/{int(limit)} active"


def filter_library(frame: pd.DataFrame, text: str = "", status: str = "all") -> pd.DataFrame:
    """Rows of a :func:`library` frame whose name, id or tickers contain ``text`` (case-insensitive; a ticker
    matches whole, ``"SPY"`` does not match ``"SPYG"``) and whose status is ``status`` (``"all"``: any)."""
    out = frame
    if status and status != "all":
        out = out[out["status"] == status]
    needle = (text or "").strip().lower()
    if needle:
        def match(row: pd.Series) -> bool:
            tickers = {t.strip().lower() for t in str(row["tickers"]).split(",")}
            return (needle in str(row["name"]).lower() or needle in str(row["symphony_id"]).lower()
                    or needle in tickers)
        out = out[out.apply(match, axis=1)] if len(out) else out
    return out.reset_index(drop=True)


@dataclass(frozen=True)
class UploadCheck:
    """The outcome of :func:`check_upload`: ``root`` when valid, else the error's parts."""

    fmt: str | None
    root: Root | None = None
    message: str | None = None
    node_path: str | None = None
    field: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the upload parsed into a symphony."""
        return self.root is not None


def check_upload(data: bytes | str, filename: str = "") -> UploadCheck:
    """Validate an uploaded symphony (JSON score, EDN, defsymphony text): parse it and report what is wrong.

    Returns:
        :class:`UploadCheck`: the model and the detected format, or the message, node path and field of the
        :class:`~engine.errors.SymphonyError`; repairs the parser made (weights normalised) are in ``warnings``.
    """
    if len(data) > MAX_INPUT_BYTES:     # refused before decoding or format detection: no work on a hostile upload
        return UploadCheck(fmt=None, message=f"file too large: {len(data):,} bytes (limit {MAX_INPUT_BYTES:,} bytes; "
                                             "the largest real symphony is about 330 KB)")
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return UploadCheck(fmt=None, message=f"not UTF-8 text ({exc.reason} at byte {exc.start})")
    else:
        text = data
    try:
        check_text_limits(text)
        fmt = detect_format(text)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SymphonyWarning)
            root = parse_symphony(text, fmt=fmt)
    except SymphonyError as exc:
        return UploadCheck(fmt=None, message=exc.message, node_path=exc.node_path, field=exc.field)
    notes = tuple(str(w.message) for w in caught if issubclass(w.category, SymphonyWarning))
    return UploadCheck(fmt=fmt, root=root, warnings=notes)


__all__ = ["LIBRARY_COLUMNS", "parse_stored", "library", "account_usage", "usage_label", "filter_library",
           "UploadCheck", "check_upload"]
