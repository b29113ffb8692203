"""Opening broker credentials: the only module that decrypts what :mod:`warehouse.repos.credentials` sealed.

Called by the broker resource when a run needs an account's broker (:meth:`resources.brokers.AlpacaBroker.
for_account`) and by the ``oragami credentials`` commands (``verify``, ``rotate-key``). Nothing else decrypts;
nothing decrypted is cached, logged or put in an exception.

* :func:`open_sealed` — AES-256-GCM decryption of one stored row under the master key, checking the row's
  ``key_version`` first: a wrong master key is a :class:`CredentialError` naming the account and both key
  versions (fingerprints), never the ciphertext; a tampered row (or one moved to another account or kind) fails
  GCM authentication and is named as such.
* :func:`stored_credential` — the account's decrypted :class:`BrokerCredential`, or ``None`` when none is stored
  (the caller then falls back to the ``ALPACA_API_KEY_<ACCOUNT>`` environment variables).
* :func:`rotate_master_key` — re-encrypt every stored row from the old master key to the new one in one
  transaction and record ``key_rotated`` in the audit trail.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from warehouse import AccountScope, Warehouse
from warehouse.repos import audit
from warehouse.repos import credentials as repo
from warehouse.repos.credentials import MasterKey, MasterKeyError, master_key_from_env, parse_master_key

#: The environment variable :func:`rotate_master_key`'s CLI reads the new key from by default.
NEW_MASTER_KEY_ENV = "ORAGAMI_NEW_MASTER_KEY"


class CredentialError(RuntimeError):
    """A stored credential cannot be used (wrong master key, tampered row, unreadable payload).

    Attributes:
        account_id: the account concerned. The message never holds a key, token, secret or ciphertext.
    """

    def __init__(self, account_id: str, message: str) -> None:
        super().__init__(message)
        self.account_id = account_id


class _Hidden:
    __slots__ = ("_v",)

    def __init__(self, value: str) -> None:
        self._v = value

    def reveal(self) -> str:
        return self._v

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


@dataclass(frozen=True, repr=False)
class BrokerCredential:
    """A decrypted credential, for handing straight to the broker client.

    Attributes:
        account_id, kind: ``'api_key'`` (:attr:`key_id`, :attr:`secret_key`) or ``'oauth'`` (:attr:`oauth_token`).
        key_id_hint: the non-secret hint stored beside it.
    ``repr`` shows neither the key nor the token.
    """

    account_id: str
    kind: str
    key_id_hint: str | None
    _key_id: _Hidden | None = None
    _secret_key: _Hidden | None = None
    _oauth_token: _Hidden | None = None

    @property
    def key_id(self) -> str | None:
        return self._key_id.reveal() if self._key_id else None

    @property
    def secret_key(self) -> str | None:
        return self._secret_key.reveal() if self._secret_key else None

    @property
    def oauth_token(self) -> str | None:
        return self._oauth_token.reveal() if self._oauth_token else None

    def secrets(self) -> list[str]:
        """Every secret value this credential holds (to scrub text with)."""
        return [v for v in (self.key_id, self.secret_key, self.oauth_token) if v]

    def __repr__(self) -> str:
        return f"BrokerCredential(account_id={self.account_id!r}, kind={self.kind!r}, hint={self.key_id_hint!r})"

    __str__ = __repr__


def _decrypt(key: MasterKey, row: dict) -> bytes:
    """The plaintext of a stored row; raises :class:`CredentialError` (no ciphertext in the message)."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    account_id, kind = str(row["account_id"]), str(row["kind"])
    stored_version = str(row["key_version"])
    if stored_version != key.version:
        raise CredentialError(account_id, (
            f"account {account_id!r}: its broker credential ({kind}) was encrypted under master key "
            f"{stored_version}, but the master key given is {key.version}: set the right ORAGAMI_MASTER_KEY "
            "(or reconnect the account)"))
    failure = None
    try:
        plain = AESGCM(key.reveal()).decrypt(base64.b64decode(row["nonce"]), base64.b64decode(row["ciphertext"]),
                                             repo.associated_data(account_id, kind))
    except (InvalidTag, ValueError, TypeError):
        failure = CredentialError(account_id, (
            f"account {account_id!r}: its broker credential ({kind}) failed authentication under master key "
            f"{key.version} (the row was altered, or belongs to another account or kind): reconnect the account"))
    if failure is not None:
        raise failure   # outside the except block: no chained context
    return plain


def open_sealed(key: MasterKey, row: dict) -> BrokerCredential:
    """Decrypt one ``broker_credentials`` row (a dict of its columns) into a :class:`BrokerCredential`.

    Raises:
        CredentialError: wrong master key (by ``key_version``), failed authentication, or a payload that is not
            the expected JSON — naming the account, never the ciphertext or any secret.
    """
    account_id, kind = str(row["account_id"]), str(row["kind"])
    plain = _decrypt(key, row)
    try:
        payload = json.loads(plain.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        payload = None
    if kind == "api_key" and isinstance(payload, dict) and payload.get("key_id") and payload.get("secret_key"):
        return BrokerCredential(account_id, kind, row.get("key_id_hint"), _key_id=_Hidden(payload["key_id"]),
                                _secret_key=_Hidden(payload["secret_key"]))
    if kind == "oauth" and isinstance(payload, dict) and payload.get("access_token"):
        return BrokerCredential(account_id, kind, row.get("key_id_hint"),
                                _oauth_token=_Hidden(payload["access_token"]))
    raise CredentialError(account_id, f"account {account_id!r}: its broker credential ({kind}) decrypted to an "
                                      "unexpected payload: reconnect the account")


def stored_credential(wh: Warehouse, account_id: str, key: MasterKey | None = None,
                      key_env: str = repo.MASTER_KEY_ENV) -> BrokerCredential | None:
    """The account's stored credential, decrypted now; ``None`` when the account has none stored.

    Args:
        key: the master key; default: the environment variable ``key_env`` (``ORAGAMI_MASTER_KEY``), read only
            when a row exists, so single-user set-ups without stored credentials need no master key.

    Raises:
        CredentialError: a row exists but cannot be opened (missing/malformed/wrong master key, tampering).
    """
    rows = repo.sealed_rows(wh, AccountScope.only(account_id))
    if rows.empty:
        return None
    row = rows.iloc[0].to_dict()
    if key is None:
        try:
            key = master_key_from_env(key_env)
        except MasterKeyError as exc:
            raise CredentialError(account_id, f"account {account_id!r} has a stored broker credential but {exc}") \
                from None
    return open_sealed(key, row)


def rotate_master_key(wh: Warehouse, old: MasterKey, new: MasterKey, *, actor: str = "cli",
                      role: str | None = "operator", origin: str = "cli") -> int:
    """Re-encrypt every stored credential from ``old`` to ``new`` (fresh nonces) in one transaction.

    Every row is opened first; if any row does not open under ``old`` nothing is changed. Records one
    ``key_rotated`` audit event (rows, old and new key versions — fingerprints, not keys). Returns the number
    of rows re-encrypted.

    Raises:
        CredentialError: a row does not open under ``old`` (names the account).
        ValueError: ``old`` and ``new`` are the same key.
    """
    if old.version == new.version:
        raise ValueError("the new master key is the same as the current one")

    def reseal(row: dict):
        account_id, kind = str(row["account_id"]), str(row["kind"])
        payload = json.loads(_decrypt(old, row).decode("utf-8"))
        return repo.seal(new, account_id, kind, payload)

    n = repo.reseal_all(wh, reseal)
    audit.record(wh, action="key_rotated", actor=actor, role=role, origin=origin,
                 detail=f"{n} broker credential(s) re-encrypted from master key {old.version} to {new.version}")
    return n


__all__ = ["NEW_MASTER_KEY_ENV", "CredentialError", "BrokerCredential", "open_sealed", "stored_credential",
           "rotate_master_key", "MasterKey", "MasterKeyError", "master_key_from_env", "parse_master_key"]
