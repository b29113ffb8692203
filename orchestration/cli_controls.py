"""``oragami`` subcommands: live controls: go to cash, skip the next rebalance, preview (issue 10)."""
from __future__ import annotations


def register(sub) -> None:
    """Add this module's subcommands to the ``oragami`` parser's subparsers ``sub``."""
