"""``oragami`` subcommands: replay of the live path over many sessions (issue 12)."""
from __future__ import annotations


def register(sub) -> None:
    """Add this module's subcommands to the ``oragami`` parser's subparsers ``sub``."""
