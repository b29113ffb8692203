"""Write the typed model back out: a Composer JSON score (composer_format.md §2) or defsymphony text (§3).

Public API::

    to_json_score(root) -> dict            # the JSON score (``raw_value``) as Python data
    to_json_text(root) -> str              # that score as JSON text (indent 2, fixed key order, trailing newline)
    to_defsymphony_text(root) -> str       # "copy symphony as code" text (no ids; no compound conditions, no empty)
    assign_ids(root) -> Root               # the model with every missing id filled in as the exporter writes it
    export_symphony(path, fmt="json") -> str   # read any encoding, return the text in ``fmt`` ('json'|'defsymphony')

Rules of the JSON writer:

* keys are Composer's kebab-case, booleans end in ``?``; UI metadata (``collapsed?``, asset ``exchange``/``price``, …)
  is not in the model and is not written;
* ids: a node's own id when the model has one; otherwise a deterministic UUID (:func:`uuid.uuid5` of the node path in a
  fixed namespace, see :func:`node_uuid`); the root's missing id is ``"new"`` (an unsaved editor export). ``if-child``
  nodes have no id in the model: theirs is the UUID of their path (``<if>/0`` then, ``<if>/1`` else);
* ``weight {num, den}`` only on children of ``wt-cash-specified``: ``den`` 100 and ``num`` the percent, an int when it
  is whole, otherwise the float nearest ``weight × 100`` for which ``num / 100`` gives back the model's weight bit for
  bit (if no float does, ``num`` is the fraction itself and ``den`` 1 — Composer's "fraction mode");
* an ``if`` becomes two ``if-child`` nodes, then-branch first (``is-else-condition?`` false, carrying the condition)
  and else-branch second;
* a single :class:`~engine.model.Comparison` is written in the legacy fields (``lhs-fn``, ``lhs-fn-params``,
  ``lhs-val``, ``comparator``, then ``rhs-fixed-value?`` true + ``rhs-val`` as a numeric string for a constant, or
  ``rhs-fixed-value?`` false + ``rhs-fn``/``rhs-fn-params``/``rhs-val`` for an indicator). Compound and multi-ticker
  conditions are written as a ``condition`` block (``binary`` / ``binary-compound`` with ticker ``%`` / ``compound``),
  which is authoritative, plus legacy fields mirroring its last leaf comparison as Composer does (§2.2);
* function parameters: ``{"window": N}`` plus any extra parameter by its own key (``short-window``…); ``{}`` for
  ``current-price``; windows of ``wt-inverse-vol`` and ``select-n`` are strings, as in Composer's exports.

Reading the output back with :func:`engine.parsing.parse_json_score` gives :func:`assign_ids` of the input model
(the input itself when every node had an id).
"""
from __future__ import annotations

import json
import math
import os
import uuid
from typing import Any, assert_never

from engine.errors import SymphonyError
from engine.functions import FUNCTIONS
from engine.model import (
    Asset,
    Comparison,
    CompoundCondition,
    Constant,
    Empty,
    Filter,
    Group,
    If,
    IndicatorRef,
    MultiTickerComparison,
    Root,
    WeightEqual,
    WeightInverseVol,
    WeightSpecified,
    iter_nodes,
)

__all__ = [
    "EXPORT_FORMATS",
    "SymphonyExportError",
    "assign_ids",
    "export_symphony",
    "node_uuid",
    "to_defsymphony_text",
    "to_json_score",
    "to_json_text",
]

EXPORT_FORMATS = ("json", "defsymphony")

#: Namespace of the generated node ids (uuid5 of the node path in it).
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://oragami-composer/node-path")

#: Root id written when the model has none (Composer's id of an unsaved symphony).
NEW_ROOT_ID = "new"


class SymphonyExportError(SymphonyError):
    """The model cannot be written in the requested encoding (e.g. a compound condition as defsymphony text)."""


def node_uuid(path: str) -> str:
    """The generated id of the node at ``path``: a UUID string, the same for the same path on every run."""
    return str(uuid.uuid5(ID_NAMESPACE, path))


# --------------------------------------------------------------------------------------------------------------------
# ids


def assign_ids(root: Root) -> Root:
    """Return ``root`` with every missing id filled in exactly as :func:`to_json_score` writes it.

    Nodes that already have an id keep it; the root gets ``"new"``, other nodes :func:`node_uuid` of their path.
    ``parse_json_score(to_json_score(root)) == assign_ids(root)``.
    """

    def fill(node):
        update: dict[str, Any] = {}
        if node.id is None:
            update["id"] = NEW_ROOT_ID if isinstance(node, Root) else node_uuid(node.path)
        match node:
            case If():
                update["then_children"] = tuple(fill(c) for c in node.then_children)
                update["else_children"] = tuple(fill(c) for c in node.else_children)
            case Root() | Group() | WeightEqual() | WeightSpecified() | WeightInverseVol() | Filter():
                update["children"] = tuple(fill(c) for c in node.children)
            case Asset() | Empty():
                pass
            case _:
                assert_never(node)
        return node.model_copy(update=update)

    return fill(root)


# --------------------------------------------------------------------------------------------------------------------
# numbers


def _is_whole(x: float) -> bool:
    return math.isfinite(x) and x == int(x) and abs(x) < 2 ** 53


def number_text(x: float) -> str:
    """A constant as Composer writes ``rhs-val``: ``"79"``, ``"-0.33"``, ``"9.25"`` (shortest text that reads back
    as the same float)."""
    return str(int(x)) if _is_whole(x) else repr(float(x))


def _json_number(x: float) -> int | float:
    return int(x) if _is_whole(x) else float(x)


def weight_json(w: float) -> dict:
    """``{num, den}`` for the fraction ``w``, so that ``num / den == w`` exactly (see the module docstring)."""
    if w == 0:
        return {"num": 0, "den": 100}
    start = w * 100.0
    candidates = [start]
    up = down = start
    for _ in range(4):
        up, down = math.nextafter(up, math.inf), math.nextafter(down, -math.inf)
        candidates += [up, down]
    for num in candidates:  # nearest first
        if num / 100.0 == w:
            return {"num": _json_number(num), "den": 100}
    return {"num": w, "den": 1}


# --------------------------------------------------------------------------------------------------------------------
# JSON score


def _fn_params(ref_fn: str, window: int | None, params: tuple[tuple[str, int], ...]) -> dict:
    """``{"window": N, <extra key>: value, …}`` in the registry's parameter order (then any other key,
    alphabetically); ``{}`` for ``current-price``."""
    spec = FUNCTIONS.get(ref_fn)
    if spec is not None and spec.kind == "price":
        return {}
    items = dict(params)
    if window is not None:
        items["window"] = window
    order = [p.key for p in spec.params] if spec is not None else []
    keys = [k for k in order if k in items] + sorted(k for k in items if k not in order)
    return {k: items[k] for k in keys}


def _indicator_block(ref: IndicatorRef) -> dict:
    return {"fn": ref.fn, "ticker": ref.ticker, "params": _fn_params(ref.fn, ref.window, ref.params)}


def _rhs_block(rhs: IndicatorRef | Constant) -> dict:
    if isinstance(rhs, Constant):
        return {"constant": float(rhs.value)}
    return _indicator_block(rhs)


def condition_block(cond) -> dict:
    """The ``condition`` block of an if-child (composer_format.md §2.2, compound condition block)."""
    match cond:
        case CompoundCondition():
            return {"condition-type": "compound", "operator": cond.operator,
                    "conditions": [condition_block(c) for c in cond.conditions]}
        case MultiTickerComparison():
            return {"condition-type": "binary-compound", "operator": cond.operator, "tickers": list(cond.tickers),
                    "lhs": _indicator_block(cond.lhs), "comparator": cond.comparator,
                    "rhs": _rhs_block(cond.rhs)}
        case Comparison():
            return {"condition-type": "binary", "lhs": _indicator_block(cond.lhs), "comparator": cond.comparator,
                    "rhs": _rhs_block(cond.rhs)}
        case _:
            assert_never(cond)


def _last_leaf(cond) -> Comparison | MultiTickerComparison:
    while isinstance(cond, CompoundCondition):
        cond = cond.conditions[-1]
    return cond


def legacy_fields(cond: Comparison | MultiTickerComparison) -> dict:
    """The legacy single-comparison fields of an if-child. For a multi-ticker comparison the placeholder ``%`` is
    replaced by its last ticker (what Composer mirrors next to a ``binary-compound`` block)."""
    def ticker(ref: IndicatorRef) -> str:
        if ref.ticker == "%" and isinstance(cond, MultiTickerComparison):
            return cond.tickers[-1]
        return ref.ticker

    out: dict[str, Any] = {
        "lhs-fn": cond.lhs.fn,
        "lhs-fn-params": _fn_params(cond.lhs.fn, cond.lhs.window, cond.lhs.params),
        "lhs-val": ticker(cond.lhs),
        "comparator": cond.comparator,
    }
    if isinstance(cond.rhs, Constant):
        out["rhs-fixed-value?"] = True
        out["rhs-val"] = number_text(cond.rhs.value)
    else:
        out["rhs-fixed-value?"] = False
        out["rhs-fn"] = cond.rhs.fn
        out["rhs-fn-params"] = _fn_params(cond.rhs.fn, cond.rhs.window, cond.rhs.params)
        out["rhs-val"] = ticker(cond.rhs)
    return out


def _id(node) -> str:
    return node.id if node.id is not None else node_uuid(node.path)


def _node_json(node, weight: float | None = None) -> dict:
    out: dict[str, Any] = {"id": _id(node), "step": node.step}
    if weight is not None:
        out["weight"] = weight_json(weight)
    match node:
        case Asset():
            out["ticker"] = node.ticker
            if node.name is not None:
                out["name"] = node.name
        case Empty():
            pass
        case Group():
            if node.name is not None:
                out["name"] = node.name
            out["children"] = [_node_json(c) for c in node.children]
        case WeightEqual():
            out["children"] = [_node_json(c) for c in node.children]
        case WeightSpecified():
            if len(node.weights) != len(node.children):
                raise SymphonyExportError(f"{len(node.weights)} weights for {len(node.children)} children",
                                          node_path=node.path, field="weight")
            out["children"] = [_node_json(c, w) for c, w in zip(node.children, node.weights)]
        case WeightInverseVol():
            out["window-days"] = str(node.window)
            out["children"] = [_node_json(c) for c in node.children]
        case Filter():
            out["sort-by-fn"] = node.sort_fn
            out["sort-by-fn-params"] = _fn_params(node.sort_fn, node.sort_window, node.sort_params)
            out["select-fn"] = node.select
            out["select-n"] = str(node.select_n)
            out["children"] = [_node_json(c) for c in node.children]
        case If():
            then_child: dict[str, Any] = {"id": node_uuid(f"{node.path}/0"), "step": "if-child",
                                          "is-else-condition?": False}
            cond = node.condition
            if not isinstance(cond, Comparison):
                then_child["condition"] = condition_block(cond)
            then_child.update(legacy_fields(_last_leaf(cond)))
            then_child["children"] = [_node_json(c) for c in node.then_children]
            else_child = {"id": node_uuid(f"{node.path}/1"), "step": "if-child", "is-else-condition?": True,
                          "children": [_node_json(c) for c in node.else_children]}
            out["children"] = [then_child, else_child]
        case _:
            assert_never(node)
    return out


def _asset_class(root: Root) -> str:
    """``CRYPTO`` when every asset is a ``CRYPTO::`` ticker, else ``EQUITIES`` (root ``asset_class``, §2.2)."""
    tickers = [n.ticker for n in iter_nodes(root) if isinstance(n, Asset)]
    return "CRYPTO" if tickers and all(t.startswith("CRYPTO::") for t in tickers) else "EQUITIES"


def to_json_score(root: Root) -> dict:
    """The Composer JSON score (``raw_value``) of ``root`` as Python data (see the module docstring)."""
    if not isinstance(root, Root):
        raise TypeError(f"to_json_score expects a Root, got {type(root).__name__}")
    out: dict[str, Any] = {
        "id": root.id if root.id is not None else NEW_ROOT_ID,
        "step": "root",
        "name": root.name,
        "description": root.description or "",
        "rebalance": root.rebalance,
    }
    if root.corridor_width is not None:
        out["rebalance-corridor-width"] = root.corridor_width
    out["asset_class"] = _asset_class(root)
    out["children"] = [_node_json(c) for c in root.children]
    return out


def to_json_text(root: Root) -> str:
    """:func:`to_json_score` as JSON text: indent 2, the writer's fixed key order, non-ASCII kept, final newline."""
    return json.dumps(to_json_score(root), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


# --------------------------------------------------------------------------------------------------------------------
# defsymphony text

def _def_name(fn: str) -> str:
    """The defsymphony spelling of function ``fn`` (registry alias, composer_format.md §3)."""
    spec = FUNCTIONS.get(fn)
    return spec.alias if spec is not None else fn


_DEF_COMPARATORS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "="}


def _edn_string(s: str) -> str:
    escaped = (s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
               .replace("\t", "\\t"))
    return f'"{escaped}"'


def _edn_number(x: float) -> str:
    return str(int(x)) if _is_whole(x) else repr(float(x))


def _edn_params(fn: str, window: int | None, params: tuple[tuple[str, int], ...]) -> str:
    items = _fn_params(fn, window, params)
    return "{" + ", ".join(f":{k} {v}" for k, v in items.items()) + "}"


def _edn_indicator(ref: IndicatorRef) -> str:
    name = _def_name(ref.fn)
    if FUNCTIONS[ref.fn].kind == "price":
        return f"({name} {_edn_string(ref.ticker)})"
    return f"({name} {_edn_string(ref.ticker)} {_edn_params(ref.fn, ref.window, ref.params)})"


def _edn_condition(cond, path: str) -> str:
    if not isinstance(cond, Comparison):
        raise SymphonyExportError("compound and multi-ticker conditions have no known defsymphony syntax "
                                  "(export as JSON instead)", node_path=path, field="condition")
    rhs = _edn_number(cond.rhs.value) if isinstance(cond.rhs, Constant) else _edn_indicator(cond.rhs)
    return f"({_DEF_COMPARATORS[cond.comparator]} {_edn_indicator(cond.lhs)} {rhs})"


def _form(head: str, args: list[str], indent: int) -> str:
    """``(head arg …)`` with every argument on its own line, one space deeper than the parenthesis."""
    pad = " " * (indent + 1)
    return "(" + head + "".join("\n" + pad + a for a in args) + ")"


def _vector(nodes, indent: int) -> str:
    """``[NODE …]`` with the nodes one under the other, one column inside the bracket."""
    parts = [_edn_node(n, indent + 1) for n in nodes]
    return "[" + ("\n" + " " * (indent + 1)).join(parts) + "]"


def _edn_node(node, indent: int) -> str:
    inner = indent + 1  # column of the arguments of this form
    match node:
        case Asset():
            name = "nil" if node.name is None else _edn_string(node.name)
            return f"(asset {_edn_string(node.ticker)} {name})"
        case WeightEqual():
            return _form("weight-equal", [_vector(node.children, inner)], indent)
        case WeightSpecified():
            args = []
            for w, child in zip(node.weights, node.children):
                args += [_edn_number(w), _edn_node(child, inner)]
            return _form("weight-specified", args, indent)
        case WeightInverseVol():
            return _form("weight-inverse-volatility", [str(node.window), _vector(node.children, inner)], indent)
        case Group():
            name = "nil" if node.name is None else _edn_string(node.name)
            return _form("group", [name, _vector(node.children, inner)], indent)
        case If():
            return _form("if", [_edn_condition(node.condition, node.path), _vector(node.then_children, inner),
                                _vector(node.else_children, inner)], indent)
        case Filter():
            name = _def_name(node.sort_fn)
            sort = (f"({name})" if FUNCTIONS[node.sort_fn].kind == "price"
                    else f"({name} {_edn_params(node.sort_fn, node.sort_window, node.sort_params)})")
            select = f"(select-{node.select} {node.select_n})"
            return _form("filter", [sort, select, _vector(node.children, inner)], indent)
        case Empty():
            raise SymphonyExportError("an 'empty' node has no defsymphony form (export as JSON instead)",
                                      node_path=node.path, field="step")
        case _:
            assert_never(node)


def to_defsymphony_text(root: Root) -> str:
    """Composer's "copy symphony as code" text of ``root``.

    Lossy as the format is (composer_format.md §1): ids and the description are not written. Raises
    :class:`SymphonyExportError` for what defsymphony cannot express (compound / multi-ticker conditions, ``empty``).
    """
    if not isinstance(root, Root):
        raise TypeError(f"to_defsymphony_text expects a Root, got {type(root).__name__}")
    meta = f'{{:asset-class {_edn_string(_asset_class(root))}, '
    if root.corridor_width is not None:
        meta += f":rebalance-threshold {_edn_number(root.corridor_width)}}}"
    else:
        meta += f":rebalance-frequency :{root.rebalance}}}"
    body = _edn_node(root.children[0], 1)
    return _form("defsymphony", [_edn_string(root.name), meta, body], 0) + "\n"


# --------------------------------------------------------------------------------------------------------------------
# CLI entry point


def export_symphony(path: str | os.PathLike, fmt: str = "json") -> str:
    """Read the symphony file at ``path`` (any encoding) and return its text in ``fmt``.

    ``fmt``: ``"json"`` (the JSON score, :func:`to_json_text`) or ``"defsymphony"`` (:func:`to_defsymphony_text`).
    Parse errors are :class:`~engine.errors.SymphonyParseError` naming the file; repairs made while reading (e.g.
    weights normalised) are reported as :class:`~engine.errors.SymphonyWarning` and are visible in the output.
    """
    from engine.parsing import load_symphony

    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (expected one of {', '.join(EXPORT_FORMATS)})")
    root = load_symphony(path)
    try:
        return to_json_text(root) if fmt == "json" else to_defsymphony_text(root)
    except SymphonyError as exc:
        source = os.fspath(path)
        if not exc.source:
            raise exc.with_source(source) from exc
        raise
