"""The few uncached warehouse calls of the dashboard: sign-in and the Symphony library's writes.

Each call opens a short-lived warehouse (read-only for the sign-in and the id proposal, writable for the writes)
and the writes clear every cached read (:func:`dashboards.cache.clear`) so the pages show them at once. Writes
take the page context's :class:`~warehouse.AccountScope` and refuse an account outside it.
"""
from __future__ import annotations

from dashboards import auth, cache
from warehouse import AccountScope, Warehouse
from warehouse.repos import audit
from warehouse.repos import symphonies as symphony_repo
from warehouse.scope import require_scope


def authenticate(url: str, username: str, password: str) -> auth.User | None:
    """:func:`dashboards.auth.authenticate` against the warehouse at ``url`` (read-only, never cached)."""
    with cache.reading(url) as wh:
        return auth.authenticate(wh, username, password)


def register_symphony(url: str, scope: AccountScope, row: dict, account_id: str) -> str:
    """:func:`warehouse.repos.symphonies.register` into ``account_id`` (status decided by the account's limit).

    Returns:
        The status stored (``"active"`` or ``"inactive"``).

    Raises:
        PermissionError: ``account_id`` is outside ``scope``.
        LookupError, ValueError: as :func:`~warehouse.repos.symphonies.register` (e.g. another account's id).
    """
    if not require_scope(scope).allows(account_id):
        raise PermissionError(f"account '{account_id}' is not in your scope ({scope})")
    with cache.writing(url) as wh:
        status = symphony_repo.register(wh, account_id, **row).status
        _audit(wh, "symphony_uploaded", account_id, row.get("symphony_id"),
               f"{row.get('name') or ''} ({row.get('source_format')}), stored {status}")
        return status


def set_symphony_status(url: str, scope: AccountScope, symphony_id: str, status: str) -> None:
    """:func:`warehouse.repos.symphonies.set_status` within ``scope``.

    Raises:
        warehouse.ActivationLimitError: activating beyond the account's limit.
        LookupError: the symphony is not in ``scope``.
    """
    with cache.writing(url) as wh:
        symphony_repo.set_status(wh, symphony_id, status, require_scope(scope))
        _audit(wh, "symphony_activated" if status == "active" else "symphony_deactivated",
               symphony_repo.owners(wh, [symphony_id]).get(symphony_id), symphony_id, f"now {status}")


def _audit(wh: Warehouse, action: str, account_id: str | None, target: str | None, detail: str) -> None:
    """Record a library write in the audit trail with the signed-in user of this run (issue 11)."""
    from dashboards import context

    ctx = context.current_or_none()
    audit.record(wh, action=action, actor=ctx.user.username if ctx else None, role=ctx.role if ctx else None,
                 account_id=account_id, target=target, origin=ctx.origin if ctx else "dashboard", detail=detail)


def propose_symphony_id(url: str, scope: AccountScope, name: str, account_id: str) -> str:
    """:func:`warehouse.repos.symphonies.propose_id`: the id an upload named ``name`` gets in ``account_id``.

    Raises:
        PermissionError: ``account_id`` is outside ``scope``.
    """
    if not require_scope(scope).allows(account_id):
        raise PermissionError(f"account '{account_id}' is not in your scope ({scope})")
    with cache.reading(url) as wh:
        return symphony_repo.propose_id(wh, name, account_id)


def set_live_control(url: str, scope: AccountScope, user: auth.User, symphony_id: str, control: str) -> dict:
    """:func:`warehouse.repos.controls.set_control` for the signed-in ``user`` (origin ``dashboard``), acting from
    the next session the daily job trades; who and when go to the control row and the audit trail.

    Returns:
        The stored control row.

    Raises:
        LookupError: the symphony is not in ``scope``.
        warehouse.repos.controls.ControlPermissionError: ``user`` is neither an operator nor the account's analyst.
        ValueError: another control is open on the symphony.
    """
    from warehouse.repos import controls as control_repo

    with cache.writing(url) as wh:
        _in_scope(wh, scope, symphony_id)
        return control_repo.set_control(wh, symphony_id=symphony_id, control=control, actor=user.username,
                                        role=user.role, user_account=user.accounts, origin="dashboard")


def clear_live_control(url: str, scope: AccountScope, user: auth.User, symphony_id: str) -> dict | None:
    """:func:`warehouse.repos.controls.clear_control` for the signed-in ``user`` (origin ``dashboard``).

    Returns:
        The cleared row, or None when none was open.

    Raises:
        LookupError: the symphony is not in ``scope``.
        warehouse.repos.controls.ControlPermissionError: as :func:`set_live_control`.
    """
    from warehouse.repos import controls as control_repo

    with cache.writing(url) as wh:
        _in_scope(wh, scope, symphony_id)
        return control_repo.clear_control(wh, symphony_id=symphony_id, actor=user.username, role=user.role,
                                          user_account=user.accounts, origin="dashboard")


def _in_scope(wh: Warehouse, scope: AccountScope, symphony_id: str) -> None:
    owner = wh.read("symphonies", where=require_scope(scope).where({"symphony_id": symphony_id}),
                    columns=["account_id"])
    if owner.empty:
        raise LookupError(f"symphony '{symphony_id}' is not in your scope ({scope})")


__all__ = ["authenticate", "register_symphony", "set_symphony_status", "propose_symphony_id", "set_live_control",
           "clear_live_control"]
