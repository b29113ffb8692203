"""Errors raised by the engine. Each names *what* is wrong and *where* (file, node path, field)."""
from __future__ import annotations


class SymphonyError(ValueError):
    """A symphony that cannot be read or evaluated.

    Attributes:
        message: what is wrong, in words.
        source: the file (or other origin) the symphony came from, if known.
        node_path: where in the tree, as child indices from the root (``"root/0/2"``), if known.
        field: the offending field (``"lhs-fn"``, ``"weight"``), if known.
    """

    def __init__(self, message: str, *, source: str | None = None, node_path: str | None = None,
                 field: str | None = None) -> None:
        self.message = message
        self.source = source
        self.node_path = node_path
        self.field = field
        super().__init__(self.__str__())

    def with_source(self, source: str) -> "SymphonyError":
        """Return a copy of this error that names the file it came from."""
        return type(self)(self.message, source=source, node_path=self.node_path, field=self.field)

    def __str__(self) -> str:
        where = []
        if self.source:
            where.append(self.source)
        if self.node_path:
            where.append(f"node {self.node_path}")
        if self.field:
            where.append(f"field '{self.field}'")
        return f"{': '.join(where)}: {self.message}" if where else self.message


class SymphonyParseError(SymphonyError):
    """The text is not a well-formed symphony in any supported encoding (syntax, unknown node or function)."""


class SymphonyLimitError(SymphonyParseError):
    """The input is over one of the parser's limits (size, nesting depth, number of forms or nodes; the limits
    are documented in :mod:`engine.parse_common`). Raised before any expensive work is done."""


class DataError(ValueError):
    """Market data needed for an evaluation or backtest is missing or unusable (names the ticker and dates)."""


class SymphonyWarning(UserWarning):
    """A symphony that was read, but only after a documented repair (e.g. specified weights normalised to sum 1).

    Carries the same ``source`` / ``node_path`` / ``field`` attributes as :class:`SymphonyError` and renders them the
    same way, so ``str(warning)`` says which file, which node and which field was repaired.
    """

    def __init__(self, message: str, *, source: str | None = None, node_path: str | None = None,
                 field: str | None = None) -> None:
        self.message = message
        self.source = source
        self.node_path = node_path
        self.field = field
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return SymphonyError.__str__(self)  # type: ignore[arg-type]
