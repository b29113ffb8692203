"""Connect Alpaca (paper) to an account: the flows behind the Account settings page and ``oragami credentials``.

No Streamlit here (plain functions of a :class:`warehouse.Warehouse`), so the page and the CLI share them:

* :func:`connect_api_key` — a pasted paper key id + secret is checked against the paper endpoint
  (``GET /v2/account``) **before** it is saved; then it is sealed (AES-256-GCM under the master key,
  :func:`warehouse.repos.credentials.seal`) and stored; ``broker_connected`` is audited.
* :func:`begin_oauth` / :func:`finish_oauth` — OAuth 2.0 authorization code with Alpaca Connect (scope
  :data:`OAUTH_SCOPE`, the paper account chosen on Alpaca's consent page): a random ``state`` (kept server-side,
  hashed, one use, 10 minutes) and PKCE S256 (the verifier is derived from the state with an HMAC under the master
  key, so nothing secret waits in the warehouse); the redirect back to the page is checked (unknown, expired or
  reused state → :class:`ConnectError`; another user's state → refused), the code is exchanged at the token URL
  with the client secret and the verifier, the token is checked against the paper endpoint, sealed and stored.
* :func:`disconnect`, :func:`status` (no ciphertext, nothing secret).

Nothing here decrypts (:mod:`resources.credentials` alone does, at run time). Error messages never contain a
key, secret, token, code or the master key; HTTP errors are raised outside the ``requests`` exception context.
Endpoints: the paper trading API (``https://paper-api.alpaca.markets``) and Alpaca's OAuth URLs, or loopback
origins (local fakes for tests) — anything else is refused before a request is made.
"""
from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import pandas as pd
import requests

from warehouse import AccountScope, Warehouse
from warehouse.repos import audit
from warehouse.repos import credentials as repo
from warehouse.repos.credentials import MasterKey, MasterKeyError, master_key_from_env
from warehouse.scope import require_scope

PAPER_URL = "https://paper-api.alpaca.markets"
OAUTH_AUTHORIZE_URL = "https://app.alpaca.markets/oauth/authorize"
OAUTH_TOKEN_URL = "https://api.alpaca.markets/oauth/token"
#: Scopes asked of Alpaca Connect: read/write the account, trade.
OAUTH_SCOPE = "account:write trading"
ENV_CLIENT_ID = "ORAGAMI_ALPACA_OAUTH_CLIENT_ID"
ENV_CLIENT_SECRET = "ORAGAMI_ALPACA_OAUTH_CLIENT_SECRET"
ENV_AUTHORIZE_URL = "ORAGAMI_ALPACA_OAUTH_AUTHORIZE_URL"
ENV_TOKEN_URL = "ORAGAMI_ALPACA_OAUTH_TOKEN_URL"
#: The dashboard's public URL (the OAuth redirect is ``<ORAGAMI_APP_URL>/<SETTINGS_URL_PATH>``).
ENV_APP_URL = "ORAGAMI_APP_URL"
SETTINGS_URL_PATH = "settings"
#: Seconds an HTTP request to Alpaca may take.
TIMEOUT_S = 15.0
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: Roles that may connect any account in their scope (an analyst may connect their own account).
MANAGER_ROLES = frozenset({"admin", "operator"})


class ConnectError(ValueError):
    """A connection attempt failed; the message is fit to show (never a secret)."""


def _allowed(url: str, exact: str) -> str:
    """``url`` without a trailing ``/`` when it is ``exact`` or a loopback ``http(s)`` URL, else ConnectError."""
    u = url.strip().rstrip("/")
    if u == exact:
        return u
    try:
        parts = urlsplit(u)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        parts, host = None, None
    if parts is None or parts.scheme not in ("http", "https") or host not in LOOPBACK_HOSTS \
            or parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise ConnectError(f"refusing endpoint {u.split('?')[0]!r}: only {exact} or a loopback origin is allowed")
    return u


def paper_endpoint(account_id: str) -> str:
    """The paper trading origin for ``account_id``: ``ALPACA_URL_<ACCOUNT>``, else ``ORAGAMI_ALPACA_URL``, else
    Alpaca's paper URL — the same choice the broker resource makes. Raises :class:`ConnectError` for anything but
    the paper URL or a loopback origin without a path."""
    suffix = "".join(ch if ch.isalnum() else "_" for ch in account_id.upper())
    url = os.environ.get(f"ALPACA_URL_{suffix}") or os.environ.get("ORAGAMI_ALPACA_URL") or PAPER_URL
    url = _allowed(url, PAPER_URL)
    if url != PAPER_URL and urlsplit(url).path not in ("", "/"):
        raise ConnectError("refusing a paper endpoint with a path: give the origin only")
    return url


def _get_account(base_url: str, headers: dict[str, str]) -> str:
    """``GET /v2/account`` → Alpaca's account number; ConnectError on refusal or no answer."""
    failure = None
    try:
        r = requests.get(f"{base_url}/v2/account", headers=headers, timeout=TIMEOUT_S)
    except requests.RequestException as exc:
        failure = ConnectError(f"the paper endpoint did not answer ({type(exc).__name__}); try again")
    if failure is not None:
        raise failure
    if r.status_code in (401, 403):
        raise ConnectError(f"the paper endpoint refused these credentials (HTTP {r.status_code})")
    if r.status_code != 200:
        raise ConnectError(f"the paper endpoint answered HTTP {r.status_code}; try again")
    try:
        body = r.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ConnectError("the paper endpoint answered something that is not an account")
    return str(body.get("account_number") or body.get("id") or "")


def validate_keys(base_url: str, key_id: str, secret_key: str) -> str:
    """Check a paper key pair with ``GET {base_url}/v2/account``; returns the account number.

    Raises: ConnectError (refused, unreachable, or an empty key).
    """
    if not key_id or not secret_key:
        raise ConnectError("both the key id and the secret are required")
    return _get_account(base_url, {"APCA-API-KEY-ID": key_id, "APCA-API-SECRET-KEY": secret_key})


def validate_token(base_url: str, token: str) -> str:
    """Check an OAuth access token with ``GET {base_url}/v2/account`` (Bearer); returns the account number."""
    return _get_account(base_url, {"Authorization": f"Bearer {token}"})


def may_connect(role: str, user_account: str | None, account_id: str) -> bool:
    """Whether a user may connect/disconnect ``account_id``: admins and operators (any account in their scope),
    an analyst only their own account."""
    return role in MANAGER_ROLES or (role == "analyst" and user_account == account_id)


def _check_access(scope: AccountScope, account_id: str) -> None:
    if not require_scope(scope).allows(account_id):
        raise PermissionError(f"account '{account_id}' is not in your scope ({scope})")


def _key(key: MasterKey | None) -> MasterKey:
    if key is not None:
        return key
    try:
        return master_key_from_env()
    except MasterKeyError as exc:
        raise ConnectError(f"cannot store credentials: {exc}") from None


def _hint(key_id: str) -> str:
    return "…" + key_id[-4:] if len(key_id) >= 8 else "…"


def connect_api_key(wh: Warehouse, scope: AccountScope, account_id: str, key_id: str, secret_key: str, *,
                    actor: str, role: str | None, origin: str = "dashboard", key: MasterKey | None = None) -> str:
    """Validate a paper key pair, then store it encrypted for ``account_id`` (replacing any earlier credential).

    Returns: Alpaca's account number. Raises: PermissionError (account outside ``scope``), ConnectError (refused
    keys, unreachable endpoint, no master key, unknown account) — nothing is stored then.
    """
    _check_access(scope, account_id)
    key_id, secret_key = (key_id or "").strip(), (secret_key or "").strip()
    k = _key(key)
    if wh.read("accounts", where={"account_id": account_id}, columns=["account_id"]).empty:
        raise ConnectError(f"account '{account_id}' does not exist")
    number = validate_keys(paper_endpoint(account_id), key_id, secret_key)
    sealed = repo.seal(k, account_id, "api_key", {"key_id": key_id, "secret_key": secret_key})
    repo.store(wh, account_id, "api_key", sealed, key_id_hint=_hint(key_id), broker_account=number or None,
               connected_by=actor)
    audit.record(wh, action="broker_connected", actor=actor, role=role, account_id=account_id, target="alpaca-paper",
                 origin=origin, detail=f"paper API keys {_hint(key_id)} (Alpaca account {number or 'unknown'})")
    return number


# ---------------------------------------------------------------------------------------------- OAuth 2.0
@dataclass(frozen=True, repr=False)
class OAuthSettings:
    """Alpaca Connect client settings (``client_secret`` hidden from ``repr``)."""

    client_id: str
    client_secret: str
    authorize_url: str
    token_url: str
    redirect_uri: str

    def __repr__(self) -> str:
        return f"OAuthSettings(client_id={self.client_id!r}, redirect_uri={self.redirect_uri!r}, secret=***)"

    @classmethod
    def from_env(cls) -> "OAuthSettings":
        """From ``ORAGAMI_ALPACA_OAUTH_CLIENT_ID`` / ``_CLIENT_SECRET`` / ``_AUTHORIZE_URL`` / ``_TOKEN_URL`` and
        ``ORAGAMI_APP_URL`` (read now). Raises :class:`ConnectError` naming what is missing or refused."""
        missing = [n for n in (ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_APP_URL) if not os.environ.get(n, "").strip()]
        if missing:
            raise ConnectError("OAuth with Alpaca is not configured: set " + ", ".join(missing))
        app = os.environ[ENV_APP_URL].strip().rstrip("/")
        if urlsplit(app).scheme not in ("http", "https"):
            raise ConnectError(f"{ENV_APP_URL} must be an http(s) URL")
        return cls(client_id=os.environ[ENV_CLIENT_ID].strip(), client_secret=os.environ[ENV_CLIENT_SECRET].strip(),
                   authorize_url=_allowed(os.environ.get(ENV_AUTHORIZE_URL) or OAUTH_AUTHORIZE_URL,
                                          OAUTH_AUTHORIZE_URL),
                   token_url=_allowed(os.environ.get(ENV_TOKEN_URL) or OAUTH_TOKEN_URL, OAUTH_TOKEN_URL),
                   redirect_uri=f"{app}/{SETTINGS_URL_PATH}")


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def pkce_verifier(key: MasterKey, state: str) -> str:
    """The PKCE ``code_verifier`` of ``state`` (43 URL-safe characters, HMAC-SHA256 under the master key)."""
    return _b64url(key.derive("oragami/oauth-pkce/v1", state))


def pkce_challenge(verifier: str) -> str:
    """``base64url(sha256(verifier))`` without padding (PKCE S256)."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def begin_oauth(wh: Warehouse, scope: AccountScope, account_id: str, username: str, *,
                settings: OAuthSettings | None = None, key: MasterKey | None = None) -> str:
    """Start connecting ``account_id`` with Alpaca Connect; returns the authorization URL to send the user to.

    A random 256-bit ``state`` is remembered (hashed) with the account and the user for 10 minutes. Raises
    PermissionError (account outside ``scope``) or ConnectError (OAuth not configured, no master key).
    """
    _check_access(scope, account_id)
    settings = settings or OAuthSettings.from_env()
    k = _key(key)
    state = secrets.token_urlsafe(32)
    repo.add_pending(wh, state, account_id, username, settings.redirect_uri)
    query = {"response_type": "code", "client_id": settings.client_id, "redirect_uri": settings.redirect_uri,
             "state": state, "scope": OAUTH_SCOPE, "code_challenge": pkce_challenge(pkce_verifier(k, state)),
             "code_challenge_method": "S256"}
    return f"{settings.authorize_url}?{urlencode(query)}"


def _exchange(settings: OAuthSettings, code: str, verifier: str) -> dict:
    failure = None
    try:
        r = requests.post(settings.token_url, data={
            "grant_type": "authorization_code", "code": code, "client_id": settings.client_id,
            "client_secret": settings.client_secret, "redirect_uri": settings.redirect_uri,
            "code_verifier": verifier}, headers={"Accept": "application/json"}, timeout=TIMEOUT_S)
    except requests.RequestException as exc:
        failure = ConnectError(f"Alpaca's token endpoint did not answer ({type(exc).__name__}); start again")
    if failure is not None:
        raise failure
    try:
        body = r.json()
    except ValueError:
        body = {}
    if r.status_code != 200 or not isinstance(body, dict) or not body.get("access_token"):
        error = body.get("error") if isinstance(body, dict) else None
        raise ConnectError(f"Alpaca refused the authorization code (HTTP {r.status_code}"
                           + (f", {str(error)[:60]}" if error else "") + "); start again")
    if str(body.get("token_type", "bearer")).lower() != "bearer":
        raise ConnectError("Alpaca answered a token that is not a bearer token")
    return body


def finish_oauth(wh: Warehouse, scope: AccountScope, username: str, role: str | None, *, code: str | None,
                 state: str | None, error: str | None = None, settings: OAuthSettings | None = None,
                 key: MasterKey | None = None, origin: str = "dashboard") -> str:
    """Handle the redirect back from Alpaca (``?code=…&state=…``): check the state, exchange the code, validate
    the token against the paper endpoint and store it encrypted. Returns the account id connected.

    Raises:
        ConnectError: no/unknown/expired/reused state (a forged or replayed redirect), a state started by
            another user, a refusal (``error``), a failed exchange or a token the paper endpoint refuses.
        PermissionError: the state's account is not in ``scope``.
    """
    require_scope(scope)
    if not state:
        raise ConnectError("the redirect from Alpaca has no state: start again from the account settings")
    pending = repo.take_pending(wh, state)   # one use: taken even if what follows fails
    if pending is None:
        raise ConnectError("the OAuth state does not match any pending request (expired, already used or forged); "
                           "nothing was connected — start again from the account settings")
    account_id = str(pending["account_id"])
    if str(pending["username"]) != username:
        raise ConnectError("this OAuth request was started by another user; nothing was connected")
    _check_access(scope, account_id)
    if error:
        raise ConnectError(f"Alpaca did not authorize the connection ({str(error)[:60]}); nothing was connected")
    if not code:
        raise ConnectError("the redirect from Alpaca has no authorization code; start again")
    settings = settings or OAuthSettings.from_env()
    if settings.redirect_uri != pending["redirect_uri"]:
        raise ConnectError("the app URL changed since the request started; start again")
    k = _key(key)
    token = _exchange(settings, code, pkce_verifier(k, state))
    number = validate_token(paper_endpoint(account_id), str(token["access_token"]))
    sealed = repo.seal(k, account_id, "oauth", {"access_token": str(token["access_token"]),
                                                "token_type": "bearer", "scope": str(token.get("scope") or "")})
    repo.store(wh, account_id, "oauth", sealed, key_id_hint="oauth", broker_account=number or None,
               connected_by=username)
    audit.record(wh, action="broker_connected", actor=username, role=role, account_id=account_id,
                 target="alpaca-paper", origin=origin,
                 detail=f"OAuth (Alpaca Connect, scope {str(token.get('scope') or OAUTH_SCOPE)[:80]}; "
                        f"Alpaca account {number or 'unknown'})")
    return account_id


def disconnect(wh: Warehouse, scope: AccountScope, account_id: str, *, actor: str, role: str | None,
               origin: str = "dashboard") -> bool:
    """Delete the account's stored credential (the env-var fallback, if any, applies again); audited.
    Returns whether one was stored. Raises PermissionError outside ``scope``."""
    _check_access(scope, account_id)
    removed = repo.delete(wh, account_id) > 0
    if removed:
        audit.record(wh, action="broker_disconnected", actor=actor, role=role, account_id=account_id,
                     target="alpaca-paper", origin=origin, detail="stored broker credential removed")
    return removed


def status(wh: Warehouse, scope: AccountScope) -> pd.DataFrame:
    """:func:`warehouse.repos.credentials.status`: kind, key hint, Alpaca account, status, who/when connected,
    last verified — nothing secret."""
    return repo.status(wh, scope)


__all__ = ["PAPER_URL", "OAUTH_AUTHORIZE_URL", "OAUTH_TOKEN_URL", "OAUTH_SCOPE", "SETTINGS_URL_PATH",
           "ConnectError", "paper_endpoint", "validate_keys", "validate_token", "may_connect", "connect_api_key",
           "OAuthSettings", "pkce_verifier", "pkce_challenge", "begin_oauth", "finish_oauth", "disconnect", "status"]
