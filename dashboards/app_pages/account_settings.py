"""Account settings page: connect the account's Alpaca **paper** account — paste a key pair, or OAuth 2.0 with
Alpaca Connect — and see whether it is connected, how, since when, last verified; disconnect.

Scope: the page context's (:func:`dashboards.context.current`): an analyst's own account, or the one account an
operator picked in the sidebar. Who may change the connection: the account's analyst, admins and operators
(:func:`dashboards.reads.credentials.may_connect`). The flows are :mod:`dashboards.reads.credentials`; this page
never decrypts anything and never shows a key, secret or token (the secret field is cleared on submit).

The OAuth redirect comes back to this page (``<ORAGAMI_APP_URL>/settings?code=…&state=…``), possibly in a new
browser session after signing in again: the state is checked against the request kept in the warehouse, then
the query parameters are cleared.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import cache, context
from dashboards.present.format import md
from dashboards.reads import credentials as creds
from warehouse import WarehouseLockedError

KIND_LABELS = {"api_key": "paper API keys", "oauth": "OAuth (Alpaca Connect)"}
_OAUTH_URL_KEY = "_settings_oauth_url"
_FLASH_KEY = "_settings_flash"
_ERROR_KEY = "_settings_error"


def _flash() -> None:
    """Show (once) the outcome message left by the previous run before it reran."""
    message = st.session_state.pop(_FLASH_KEY, None)
    if message:
        st.success(md(message), icon=":material/check_circle:")


def _when(ts) -> str:
    if ts is None or (not isinstance(ts, str) and pd.isna(ts)):
        return "never"
    return pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC") if pd.Timestamp(ts).tzinfo else \
        pd.Timestamp(ts).strftime("%Y-%m-%d %H:%M UTC")


def _oauth_return(ctx: context.PageContext) -> None:
    """Finish an OAuth redirect (``?code=&state=`` or ``?error=&state=``) and clear the query parameters."""
    params = st.query_params
    if not any(k in params for k in ("code", "state", "error")):
        return
    code, state, error = params.get("code"), params.get("state"), params.get("error")
    st.query_params.clear()
    try:
        with cache.writing(ctx.url) as wh:
            account = creds.finish_oauth(wh, ctx.scope, ctx.user.username, ctx.role, code=code, state=state,
                                         error=error)
    except (creds.ConnectError, PermissionError) as exc:
        st.error(md(f"Alpaca connection refused: {exc}"), icon=":material/gpp_bad:")
        return
    st.success(md(f"Account {account} is connected to Alpaca paper with OAuth."), icon=":material/link:")


def _status(ctx: context.PageContext, account: str) -> pd.Series | None:
    with cache.reading(ctx.url) as wh:
        rows = creds.status(wh, ctx.scope)
    rows = rows[rows["account_id"] == account]
    return rows.iloc[0] if len(rows) else None


def _show_status(row: pd.Series | None, account: str) -> None:
    st.subheader("Alpaca paper connection")
    if row is None:
        st.info(md(f"Account {account} is not connected. Until it is, the daily run uses the environment keys "
                   "ALPACA_API_KEY_<ACCOUNT> / ALPACA_SECRET_KEY_<ACCOUNT> if the operator set them."),
                icon=":material/link_off:")
        return
    kind = KIND_LABELS.get(row["kind"], row["kind"])
    hint = "" if row["kind"] == "oauth" else f", key {row['key_id_hint']}"
    if row["status"] == "connected":
        st.success(md(f"Connected with {kind}{hint} — Alpaca account {row['broker_account'] or 'unknown'}."),
                   icon=":material/link:")
    else:
        st.error(md(f"Connection failed at the last verification: {row['last_error'] or 'no reason recorded'}."),
                 icon=":material/error:")
    st.caption(md(f"Connected by {row['connected_by'] or 'unknown'} on {_when(row['connected_at'])} · "
                  f"last verified {_when(row['last_verified_at'])} · encrypted under master key "
                  f"{row['key_version']}"))
    st.caption(md(f"Verify now from a terminal with the master key: `oragami credentials verify --account "
                  f"{account}` (the dashboard never decrypts credentials); every daily run also uses them."))


def _keep_flash(text: str) -> None:
    """Keep ``text`` for the next page run (shown once at the top)."""
    st.session_state[_FLASH_KEY] = text


def _save_keys(ctx: context.PageContext, account: str) -> None:
    """The form's callback (runs before the page): validate and store the pasted keys, then empty both fields
    so the secret does not stay in the session; the outcome is shown by the page run that follows."""
    key_id = st.session_state.get("cred_key_id", "")
    secret = st.session_state.get("cred_secret", "")
    st.session_state["cred_key_id"] = ""
    st.session_state["cred_secret"] = ""
    try:
        with cache.writing(ctx.url) as wh:
            number = creds.connect_api_key(wh, ctx.scope, account, key_id, secret, actor=ctx.user.username,
                                           role=ctx.role)
    except (creds.ConnectError, PermissionError) as exc:
        st.session_state[_ERROR_KEY] = f"Not saved: {exc}"
    else:
        _keep_flash(f"Keys accepted by the paper endpoint (Alpaca account {number or 'unknown'}) and saved encrypted.")


def _trades_through(ctx: context.PageContext, account: str) -> None:
    """Which of the account's symphonies trade through this connection (active) and which do not (inactive)."""
    syms = cache.symphonies(ctx.url, ctx.scope)
    syms = syms[syms["account_id"] == account]
    if syms.empty:
        st.caption(md(f"Account {account} has no symphony yet: nothing trades through this connection."))
        return
    active = ", ".join(syms.loc[syms["status"] == "active", "label"]) or "none"
    inactive = ", ".join(syms.loc[syms["status"] != "active", "label"])
    st.caption(md(f"Symphonies trading through this connection: {active}"
                  + (f" (inactive, not trading: {inactive})" if inactive else "") + "."))


def _connect_forms(ctx: context.PageContext, account: str, connected: bool) -> None:
    st.subheader("Connect with paper API keys")
    with st.form("connect_keys"):
        st.text_input("Paper API key id", key="cred_key_id")
        st.text_input("Paper API secret", type="password", key="cred_secret")
        st.form_submit_button("Validate and save", icon=":material/key:", on_click=_save_keys,
                              args=(ctx, account))
    error = st.session_state.pop(_ERROR_KEY, None)
    if error:
        st.error(md(error), icon=":material/gpp_bad:")

    st.subheader("Connect with Alpaca (OAuth)")
    st.caption(md(f"Opens Alpaca to approve access (scope {creds.OAUTH_SCOPE}); choose the paper account there."))
    if st.button("Start OAuth connection", key="oauth_start", icon=":material/open_in_new:"):
        try:
            with cache.writing(ctx.url) as wh:
                authorize_url = creds.begin_oauth(wh, ctx.scope, account, ctx.user.username)
            st.session_state[_OAUTH_URL_KEY] = authorize_url
        except (creds.ConnectError, PermissionError) as exc:
            st.session_state.pop(_OAUTH_URL_KEY, None)
            st.error(md(f"Cannot start OAuth: {exc}"), icon=":material/error:")
    url = st.session_state.get(_OAUTH_URL_KEY)
    if url:
        st.link_button("Continue to Alpaca", url, icon=":material/login:")
        st.caption("The link is valid for 10 minutes and can be used once.")

    if connected and st.button("Disconnect", key="cred_disconnect", icon=":material/link_off:", type="secondary"):
        with cache.writing(ctx.url) as wh:
            creds.disconnect(wh, ctx.scope, account, actor=ctx.user.username, role=ctx.role)
        _keep_flash(f"Account {account} disconnected: its stored credential was deleted.")
        st.rerun()


ctx = context.current()
st.title("Account settings")
_flash()
_oauth_return(ctx)
account = ctx.home_account
if account is None:
    st.info("Pick one account in the sidebar to see and change its broker connection.",
            icon=":material/account_circle:")
    st.stop()
try:
    row = _status(ctx, account)
except WarehouseLockedError:
    st.warning("The warehouse is busy (Dagster is writing). Wait a moment and reload.",
               icon=":material/hourglass_top:")
    st.stop()
_show_status(row, account)
_trades_through(ctx, account)
if creds.may_connect(ctx.role, ctx.user.account_id, account):
    _connect_forms(ctx, account, row is not None)
else:
    st.info("Only the account's analyst, an admin or an operator can change its broker connection.",
            icon=":material/lock:")
