"""``oragami`` subcommands: broker credentials: connect, verify, disconnect, rotate-key (issue 11)."""
from __future__ import annotations


def register(sub) -> None:
    """Add this module's subcommands to the ``oragami`` parser's subparsers ``sub``."""
