"""``oragami`` subcommands: users, accounts, roles and the audit trail (issue 11)."""
from __future__ import annotations


def register(sub) -> None:
    """Add this module's subcommands to the ``oragami`` parser's subparsers ``sub``."""
