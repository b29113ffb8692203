"""``oragami`` subcommands: research: out-of-sample split, walk-forward, overfitting statistics (issue 13)."""
from __future__ import annotations


def register(sub) -> None:
    """Add this module's subcommands to the ``oragami`` parser's subparsers ``sub``."""
