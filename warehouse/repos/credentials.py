"""Broker credentials at rest: the ``broker_credentials`` and ``oauth_pending`` tables, and the sealing half of
their envelope.

What is stored is ciphertext only. A credential (paper key id + secret, or an OAuth access token) is serialised
to JSON and encrypted with **AES-256-GCM** (``cryptography``'s ``AESGCM``, authenticated encryption) under the
**master key** — 32 random bytes given base64-encoded in ``ORAGAMI_MASTER_KEY`` (or a Dagster ``EnvVar`` of that
name), never written to the warehouse. Each encryption draws a fresh random 96-bit nonce; the associated data
binds the ciphertext to its account and kind (:func:`associated_data`), so a row copied onto another account, or
an ``api_key`` row relabelled ``oauth``, fails authentication. ``key_version`` (:attr:`MasterKey.version`) is a
fingerprint of the master key stored beside the ciphertext, so a wrong key is named as such before any
decryption is attempted.

This module only **seals** (encrypts) and stores; **opening** (decryption) lives in :mod:`resources.credentials`
and nowhere else — the broker resource at run time and the ``oragami credentials`` commands call it. Reads of
rows take an :class:`warehouse.scope.AccountScope` like every tenant read; :func:`status` returns no ciphertext.

OAuth requests awaiting their redirect are kept in ``oauth_pending`` by the sha256 of their ``state`` (the state
itself is never stored) for :data:`PENDING_TTL` and can be taken once (:func:`take_pending`).
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import os
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from warehouse.schema import CREDENTIAL_KINDS, broker_credentials, oauth_pending
from warehouse.scope import AccountScope, require_scope
from warehouse.store import Warehouse

#: Environment variable holding the master key (base64 of 32 random bytes).
MASTER_KEY_ENV = "ORAGAMI_MASTER_KEY"
#: Master key length, bytes (AES-256).
MASTER_KEY_BYTES = 32
#: GCM nonce length, bytes (96 bits, the size GCM is specified for).
NONCE_BYTES = 12
#: How long an OAuth authorization request waits for its redirect.
PENDING_TTL = dt.timedelta(minutes=10)
_AAD_PREFIX = b"oragami/broker-credential/v1"
_VERSION_PREFIX = b"oragami/master-key-id/v1"
#: Columns :func:`status` returns (no ciphertext, nonce or anything secret).
STATUS_COLUMNS: tuple[str, ...] = ("account_id", "kind", "key_id_hint", "broker_account", "status",
                                   "connected_by", "connected_at", "last_verified_at", "last_error", "key_version")


class MasterKeyError(ValueError):
    """The master key is missing or malformed (the message names the variable, never its value)."""


class MasterKey:
    """The 32-byte master key; its value never shows in ``repr``/``str``.

    Attributes:
        version: ``k1-`` + 12 hex digits of a sha256 fingerprint — safe to store and display.
    """

    __slots__ = ("_raw", "version")

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes) or len(raw) != MASTER_KEY_BYTES:
            raise MasterKeyError(f"the master key must be exactly {MASTER_KEY_BYTES} bytes")
        self._raw = raw
        self.version = "k1-" + hashlib.sha256(_VERSION_PREFIX + raw).hexdigest()[:12]

    def reveal(self) -> bytes:
        """The raw key bytes (for the cipher only)."""
        return self._raw

    def derive(self, label: str, data: str) -> bytes:
        """HMAC-SHA256(key, label ‖ 0x1f ‖ data): 32 bytes bound to this key (e.g. the OAuth PKCE verifier)."""
        return hmac.new(self._raw, label.encode() + b"\x1f" + data.encode(), hashlib.sha256).digest()

    def __repr__(self) -> str:
        return f"MasterKey(version={self.version!r})"

    __str__ = __repr__


def parse_master_key(text: str | None, name: str = MASTER_KEY_ENV) -> MasterKey:
    """The :class:`MasterKey` encoded in ``text`` (standard or URL-safe base64 of 32 bytes, padding optional).

    Raises:
        MasterKeyError: ``text`` is empty, not base64, or not 32 bytes; the message names ``name`` and says how
            to make a key (``oragami credentials new-master-key``), never the value.
    """
    hint = "(make one with `oragami credentials new-master-key`)"
    if text is None or not str(text).strip():
        raise MasterKeyError(f"{name} is not set: the master key that encrypts broker credentials is required {hint}")
    s = str(text).strip()
    s += "=" * (-len(s) % 4)
    try:
        raw = base64.b64decode(s.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise MasterKeyError(f"{name} is not valid base64 {hint}") from None
    if len(raw) != MASTER_KEY_BYTES:
        raise MasterKeyError(f"{name} must encode exactly {MASTER_KEY_BYTES} bytes, got {len(raw)} {hint}")
    return MasterKey(raw)


def master_key_from_env(name: str = MASTER_KEY_ENV) -> MasterKey:
    """:func:`parse_master_key` of the environment variable ``name``, read now. Raises :class:`MasterKeyError`."""
    return parse_master_key(os.environ.get(name), name)


def new_master_key_text() -> str:
    """A fresh master key: 32 bytes from the OS CSPRNG, standard base64 (44 characters)."""
    return base64.b64encode(os.urandom(MASTER_KEY_BYTES)).decode("ascii")


def associated_data(account_id: str, kind: str) -> bytes:
    """The GCM associated data of a credential row: binds the ciphertext to its account and kind."""
    return _AAD_PREFIX + b"\x1f" + str(account_id).encode() + b"\x1f" + str(kind).encode()


@dataclass(frozen=True)
class Sealed:
    """An encrypted credential as stored: base64 ``ciphertext`` (with the 16-byte GCM tag), base64 ``nonce``,
    the ``key_version`` of the master key that sealed it."""

    ciphertext: str
    nonce: str
    key_version: str


def seal(key: MasterKey, account_id: str, kind: str, payload: dict) -> Sealed:
    """Encrypt ``payload`` (a JSON-able dict, e.g. ``{"key_id": …, "secret_key": …}``) for ``account_id``/``kind``.

    AES-256-GCM with a fresh random 96-bit nonce and :func:`associated_data`. Raises ``ValueError`` for an unknown
    ``kind``.
    """
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if kind not in CREDENTIAL_KINDS:
        raise ValueError(f"unknown credential kind {kind!r}; expected one of {CREDENTIAL_KINDS}")
    nonce = os.urandom(NONCE_BYTES)
    data = json.dumps(payload, sort_keys=True).encode("utf-8")
    ct = AESGCM(key.reveal()).encrypt(nonce, data, associated_data(account_id, kind))
    return Sealed(base64.b64encode(ct).decode("ascii"), base64.b64encode(nonce).decode("ascii"), key.version)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def store(wh: Warehouse, account_id: str, kind: str, sealed: Sealed, *, key_id_hint: str | None,
          broker_account: str | None, connected_by: str | None, verified_at: dt.datetime | None = None) -> None:
    """Save the account's credential (ciphertext only), replacing any earlier one of either kind, in one
    transaction. ``verified_at``: when the paper endpoint accepted it (default now). Status ``connected``."""
    if kind not in CREDENTIAL_KINDS:
        raise ValueError(f"unknown credential kind {kind!r}; expected one of {CREDENTIAL_KINDS}")
    now = _now()
    t = broker_credentials
    with wh.begin() as conn:
        conn.execute(t.delete().where(t.c.account_id == account_id))
        conn.execute(t.insert().values(
            account_id=account_id, kind=kind, key_id_hint=key_id_hint, broker_account=broker_account,
            ciphertext=sealed.ciphertext, nonce=sealed.nonce, key_version=sealed.key_version,
            connected_by=connected_by, connected_at=now, last_verified_at=verified_at or now,
            status="connected", last_error=None))


def sealed_rows(wh: Warehouse, scope: AccountScope) -> pd.DataFrame:
    """Every stored credential row in ``scope`` (ciphertext included — for :mod:`resources.credentials` only).

    Returns: the columns of ``broker_credentials``, one row per account, ordered by account. Raises
    ``TypeError`` without an :class:`AccountScope`.
    """
    require_scope(scope)
    t = broker_credentials
    return wh.fetch(sa.select(*t.c).where(*scope.clauses(t.c.account_id)).order_by(t.c.account_id, t.c.kind))


def status(wh: Warehouse, scope: AccountScope) -> pd.DataFrame:
    """What may be shown about the credentials in ``scope``: :data:`STATUS_COLUMNS` (no ciphertext, nonce or
    secret), one row per connected account. Raises ``TypeError`` without an :class:`AccountScope`."""
    require_scope(scope)
    t = broker_credentials
    return wh.fetch(sa.select(*(t.c[c] for c in STATUS_COLUMNS)).where(*scope.clauses(t.c.account_id))
                    .order_by(t.c.account_id))


def mark_verified(wh: Warehouse, account_id: str, *, ok: bool, error: str | None = None,
                  broker_account: str | None = None) -> int:
    """Record a verification of the account's credential: ``ok`` sets ``last_verified_at`` = now and status
    ``connected``; otherwise status ``failed`` with ``error`` (never a secret). Returns rows updated (0 or 1)."""
    t = broker_credentials
    values: dict = {"status": "connected" if ok else "failed", "last_error": None if ok else (error or "")[:500]}
    if ok:
        values["last_verified_at"] = _now()
        if broker_account:
            values["broker_account"] = broker_account
    with wh.begin() as conn:
        return conn.execute(t.update().where(t.c.account_id == account_id).values(**values)).rowcount


def delete(wh: Warehouse, account_id: str) -> int:
    """Remove the account's stored credential; returns rows deleted (0 when none was stored)."""
    t = broker_credentials
    with wh.begin() as conn:
        return conn.execute(t.delete().where(t.c.account_id == account_id)).rowcount


def reseal_all(wh: Warehouse, reseal: Callable[[dict], Sealed]) -> int:
    """Replace every row's ciphertext with ``reseal(row)`` in ONE transaction (all rows or none).

    ``reseal`` gets the stored row as a dict and returns its new :class:`Sealed`; an exception from it rolls
    everything back. Returns the number of rows re-encrypted.
    """
    t = broker_credentials
    with wh.begin() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.select(*t.c).order_by(t.c.account_id, t.c.kind))]
        for row in rows:
            new = reseal(row)
            conn.execute(t.update().where(t.c.account_id == row["account_id"], t.c.kind == row["kind"])
                         .values(ciphertext=new.ciphertext, nonce=new.nonce, key_version=new.key_version))
    return len(rows)


# ------------------------------------------------------------------------------------------- OAuth requests
def state_hash(state: str) -> str:
    """sha256 hex of an OAuth ``state`` (the key of ``oauth_pending``)."""
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


def add_pending(wh: Warehouse, state: str, account_id: str, username: str, redirect_uri: str,
                now: dt.datetime | None = None) -> dt.datetime:
    """Remember an OAuth authorization request for :data:`PENDING_TTL`; returns its expiry (UTC). Expired
    requests are removed at the same time."""
    now = now or _now()
    t = oauth_pending
    with wh.begin() as conn:
        conn.execute(t.delete().where(t.c.expires_at < now))
        conn.execute(t.insert().values(state_hash=state_hash(state), account_id=account_id, username=username,
                                       redirect_uri=redirect_uri, created_at=now, expires_at=now + PENDING_TTL))
    return now + PENDING_TTL


def take_pending(wh: Warehouse, state: str, now: dt.datetime | None = None) -> dict | None:
    """The pending request of ``state`` (``account_id, username, redirect_uri, created_at, expires_at``),
    removed so it can be used once; ``None`` when unknown or expired."""
    now = now or _now()
    t = oauth_pending
    with wh.begin() as conn:
        row = conn.execute(sa.select(*t.c).where(t.c.state_hash == state_hash(state))).first()
        conn.execute(t.delete().where((t.c.state_hash == state_hash(state)) | (t.c.expires_at < now)))
    if row is None:
        return None
    out = dict(row._mapping)
    expires = out["expires_at"]
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=dt.timezone.utc)
    return out if expires >= now else None


__all__ = ["MASTER_KEY_ENV", "MASTER_KEY_BYTES", "NONCE_BYTES", "PENDING_TTL", "STATUS_COLUMNS", "MasterKeyError",
           "MasterKey", "parse_master_key", "master_key_from_env", "new_master_key_text", "associated_data",
           "Sealed", "seal", "store", "sealed_rows", "status", "mark_verified", "delete", "reseal_all",
           "state_hash", "add_pending", "take_pending"]
