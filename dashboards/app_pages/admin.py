"""Admin: users (create, role and accounts, disable/enable, reset password, sign out everywhere) and accounts
(create, disable/enable, risk gates). Admins only: the navigation lists the page for admins alone
(:func:`dashboards.navigation.pages_for`), and the page refuses any other role itself.

Every change goes through :mod:`warehouse.repos.users`, which records it in the audit trail with the admin's name
and address. A reset shows a generated temporary password once; the user must set a new one at next sign-in.
Sections: :func:`_users`, :func:`_manage_user`, :func:`_accounts`, :func:`_risk_gates`.
"""
from __future__ import annotations

import math

import sqlalchemy as sa
import streamlit as st

from dashboards import auth, cache, context, notices
from dashboards.context import PageContext
from dashboards.present.format import md
from dashboards.reads import users as user_reads
from warehouse import AccountScope, WarehouseLockedError
from warehouse.repos import users as user_repo
from warehouse.schema import DEFAULT_MAX_ACTIVE_SYMPHONIES, USER_ROLES

_MESSAGE = "admin_message"


def _actor(ctx: PageContext) -> user_repo.Actor:
    return user_repo.Actor(ctx.user.username, ctx.role, ctx.origin)


def _done(kind: str, text: str) -> None:
    st.session_state[_MESSAGE] = (kind, text)
    st.rerun()


def _apply(ctx: PageContext, what: str, fn, *args, **kwargs) -> None:
    """Run one admin change; report it (and rerun so the tables show it) or its error."""
    try:
        with cache.writing(ctx.url, lock_wait_s=10.0) as wh:
            fn(wh, *args, by=_actor(ctx), **kwargs)
    except (ValueError, LookupError) as exc:
        st.error(f"{what}: {md(exc)}", icon=":material/error:")
        return
    _done("success", what)


def _users(ctx: PageContext, account_ids: list[str]) -> None:
    st.subheader("Users")
    with cache.reading(ctx.url) as wh:
        users = user_reads.users_table(wh, AccountScope.all())
    st.dataframe(users, hide_index=True, key="admin_users_table",
                 column_config={"created_at": st.column_config.DatetimeColumn("Created")})
    with st.form("admin_new_user", clear_on_submit=True):
        st.markdown("**Create a user** (they set their own password at first sign-in)")
        c1, c2, c3 = st.columns(3)
        name = c1.text_input("Username", key="admin_new_name")
        role = c2.selectbox("Role", list(USER_ROLES), key="admin_new_role")
        members = c3.multiselect("Accounts (analysts)", account_ids, key="admin_new_accounts")
        password = st.text_input(f"Temporary password (at least {auth.MIN_PASSWORD_CHARS} characters)",
                                 type="password", key="admin_new_password")
        if st.form_submit_button("Create user", icon=":material/person_add:"):
            try:
                with cache.writing(ctx.url, lock_wait_s=10.0) as wh:
                    auth.create_user(wh, name, password, role, accounts=members, must_change_password=True,
                                     by=_actor(ctx))
            except ValueError as exc:
                st.error(f"User not created: {md(exc)}", icon=":material/error:")
            else:
                _done("success", f"User `{name.strip()}` created ({role}).")
    if not users.empty:
        _manage_user(ctx, users, account_ids)


def _manage_user(ctx: PageContext, users, account_ids: list[str]) -> None:
    st.markdown("**Manage a user**")
    rows = {r.username: r for r in users.itertuples(index=False)}
    name = st.selectbox("User", list(rows), key="admin_pick_name",
                        format_func=lambda n: f"{n} ({rows[n].role}{', disabled' if rows[n].disabled else ''})")
    row = rows[name]
    c1, c2, c3 = st.columns(3)
    if row.disabled:
        if c1.button("Enable", icon=":material/check_circle:", key="admin_enable"):
            _apply(ctx, f"User `{name}` enabled.", user_repo.set_disabled, name, False)
    elif c1.button("Disable", icon=":material/block:", key="admin_disable", disabled=name == ctx.user.username,
                   help="Ends every session of the user and refuses their sign-in"):
        _apply(ctx, f"User `{name}` disabled.", user_repo.set_disabled, name, True)
    if c2.button("Reset password", icon=":material/lock_reset:", key="admin_reset"):
        temp = auth.temporary_password()
        try:
            with cache.writing(ctx.url, lock_wait_s=10.0) as wh:
                user_repo.set_password(wh, name, auth.hash_password(temp), must_change=True, by=_actor(ctx),
                                       action="password_reset")
        except LookupError as exc:
            st.error(md(exc))
        else:
            _done("reset", f"Password of `{name}` reset. Temporary password (shown once; they must change it at "
                           f"next sign-in): `{temp}`")
    if c3.button("Sign out everywhere", icon=":material/devices:", key="admin_sign_out"):
        _apply(ctx, f"Every session of `{name}` ended.", user_repo.sign_out_everywhere, name)
    with st.form("admin_edit_user"):
        current = [a.strip() for a in str(row.accounts).split(",") if a.strip() in account_ids]
        e1, e2 = st.columns(2)
        role = e1.selectbox("Role", list(USER_ROLES), index=list(USER_ROLES).index(row.role), key="admin_edit_role")
        members = e2.multiselect("Accounts (analysts)", account_ids, default=current, key="admin_edit_accounts")
        if st.form_submit_button("Save role and accounts", icon=":material/save:"):
            _apply(ctx, f"User `{name}` is now {role}.", user_repo.set_role_and_accounts, name, role,
                   members if role == "analyst" else [])


def _accounts(ctx: PageContext, accounts) -> None:
    st.subheader("Accounts")
    st.dataframe(accounts, hide_index=True, key="admin_accounts_table",
                 column_config={"daily_loss_kill_pct": st.column_config.NumberColumn("Kill switch loss",
                                                                                     format="percent")})
    with st.form("admin_new_account", clear_on_submit=True):
        st.markdown("**Create an account**")
        c1, c2 = st.columns(2)
        account_id = c1.text_input("Account id", key="admin_new_account_id")
        name = c2.text_input("Name", key="admin_new_account_name")
        if st.form_submit_button("Create account", icon=":material/add_business:"):
            _apply(ctx, f"Account `{account_id.strip()}` created.", user_repo.create_account, account_id,
                   name.strip() or None)


def _risk_gates(ctx: PageContext, accounts) -> None:
    if accounts.empty:
        return
    st.subheader("Risk gates and status")
    rows = {r.account_id: r for r in accounts.itertuples(index=False)}
    account_id = st.selectbox("Account", list(rows), key="admin_gate_pick",
                              format_func=lambda a: f"{rows[a].name or a} ({a})"
                                                    + (" — disabled" if rows[a].disabled else ""))
    row = rows[account_id]
    if row.disabled:
        if st.button("Enable account", icon=":material/check_circle:", key="admin_account_enable"):
            _apply(ctx, f"Account `{account_id}` enabled.", user_repo.set_account_disabled, account_id, False)
    elif st.button("Disable account", icon=":material/block:", key="admin_account_disable",
                   help="Deactivates its symphonies (the daily job stops trading them) and hides it from analysts"):
        _apply(ctx, f"Account `{account_id}` disabled.", user_repo.set_account_disabled, account_id, True)

    def _num(v):
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)

    with st.form("admin_gates"):
        c1, c2, c3, c4 = st.columns(4)
        notional = c1.number_input("Largest order, USD (empty: no limit)", min_value=0.0, step=100.0,
                                   value=_num(row.max_order_notional_usd), key="admin_gate_notional")
        loss = _num(row.daily_loss_kill_pct)
        kill = c2.number_input("Kill switch: daily loss, % (empty: off)", min_value=0.0, max_value=99.0, step=0.5,
                               value=None if loss is None else round(loss * 100, 4), key="admin_gate_kill")
        limit = _num(row.max_active_symphonies)
        active = c3.number_input("Active symphonies (limit)", min_value=0, max_value=1000, step=1,
                                 value=int(limit) if limit is not None else DEFAULT_MAX_ACTIVE_SYMPHONIES,
                                 key="admin_gate_active")
        dry = c4.checkbox("Dry run (never submit)", value=bool(row.dry_run), key="admin_gate_dry")
        if st.form_submit_button("Save risk gates", icon=":material/save:"):
            _apply(ctx, f"Risk gates of `{account_id}` saved.", user_repo.set_risk_gates, account_id,
                   max_order_notional_usd=notional or None, daily_loss_kill_pct=(kill / 100) if kill else None,
                   max_active_symphonies=int(active), dry_run=bool(dry))


def render() -> None:
    """Draw the page: admins only; users, accounts and risk gates."""
    st.title("Admin")
    ctx = context.current()
    if not ctx.user.is_admin:
        st.error("This page is for admins.", icon=":material/lock:")
        return
    if not notices.warehouse_ready(ctx):
        return
    message = st.session_state.pop(_MESSAGE, None)
    if message:
        (st.success if message[0] == "success" else st.warning)(message[1])
    try:
        with cache.reading(ctx.url) as wh:
            accounts = user_reads.accounts_table(wh, AccountScope.all())
        _users(ctx, list(accounts["account_id"]))
        _accounts(ctx, accounts)
        _risk_gates(ctx, accounts)
    except WarehouseLockedError:
        notices.busy()
    except sa.exc.OperationalError as exc:
        st.error(f"Cannot read the warehouse: {md(str(getattr(exc, 'orig', exc)).splitlines()[0])}",
                 icon=":material/error:")


render()
