"""``oragami credentials`` — broker credentials: connect, status, verify, disconnect, rotate-key (issue 11).

::

    oragami credentials new-master-key                 # print a fresh master key (base64 of 32 random bytes)
    oragami credentials connect --account A            # paper key id + secret from stdin (2 lines) or prompts;
                                                       #   validated against GET /v2/account, stored encrypted
    oragami credentials status [--account A]           # kind, key hint, Alpaca account, last verified (no secret)
    oragami credentials verify --account A | --all     # decrypt, GET /v2/account, record last_verified_at
    oragami credentials disconnect --account A
    oragami credentials rotate-key [--new-key-env ORAGAMI_NEW_MASTER_KEY]
                                                       # re-encrypt every row: old key ORAGAMI_MASTER_KEY → new

Secrets are never taken as arguments (they would show in ``ps`` and shell history), never printed (except the
new master key of ``new-master-key``, which is its purpose) and never part of an error. Exit codes: 0 ok, 1 a
verification failed, 2 usage / refused credentials / bad master key.
"""
from __future__ import annotations

import getpass
import sys

EXIT_FAILED = 1
EXIT_USAGE = 2


def _err(msg: str) -> None:
    print(msg, file=sys.stderr)


def _wh(args):
    from orchestration.cli import _warehouse

    return _warehouse(args)


def cmd_new_master_key(args) -> int:
    """Print a fresh master key (keep it in a secret store; set it as ``ORAGAMI_MASTER_KEY``)."""
    from warehouse.repos.credentials import new_master_key_text

    print(new_master_key_text())
    return 0


def _read_keys() -> tuple[str, str]:
    if sys.stdin.isatty():
        return getpass.getpass("Paper API key id: "), getpass.getpass("Paper API secret: ")
    lines = sys.stdin.read().splitlines()
    lines = [ln.strip() for ln in lines if ln.strip()]
    if len(lines) != 2:
        raise ValueError("expected two lines on standard input: the paper key id, then the secret")
    return lines[0], lines[1]


def cmd_connect(args) -> int:
    """Validate a paper key pair against the paper endpoint and store it encrypted for ``--account``."""
    from dashboards.reads import credentials as creds
    from warehouse import AccountScope

    try:
        key_id, secret = _read_keys()
    except ValueError as exc:
        _err(f"error: {exc}")
        return EXIT_USAGE
    wh = _wh(args)
    try:
        number = creds.connect_api_key(wh, AccountScope.all(), args.account, key_id, secret, actor="cli",
                                       role="operator", origin="cli")
    except creds.ConnectError as exc:
        _err(f"error: account {args.account}: not saved: {exc}")
        return EXIT_USAGE
    print(f"account {args.account}: paper keys accepted (Alpaca account {number or 'unknown'}) and stored encrypted")
    return 0


def cmd_status(args) -> int:
    """Print the stored credentials (no secret)."""
    from warehouse import AccountScope
    from warehouse.repos import credentials as repo

    rows = repo.status(_wh(args), AccountScope.of(args.account))
    if rows.empty:
        print("no stored broker credentials" + (f" for account {args.account}" if args.account else ""))
        return 0
    for r in rows.to_dict("records"):
        print(f"{r['account_id']}: {r['kind']} {r['key_id_hint'] or ''} status={r['status']} "
              f"alpaca_account={r['broker_account'] or '?'} connected_by={r['connected_by'] or '?'} "
              f"connected_at={r['connected_at']} last_verified_at={r['last_verified_at']} "
              f"master_key={r['key_version']}" + (f" error={r['last_error']}" if r["last_error"] else ""))
    return 0


def verify_account(wh, account_id: str, url: str | None = None) -> tuple[bool, str]:
    """Decrypt the account's stored credential, call ``GET /v2/account`` at the paper endpoint (or ``url``, a
    loopback fake) and record the outcome (``last_verified_at`` or ``failed`` with the reason; audited
    ``broker_verified``). Returns (ok, a line to print — never a secret)."""
    import os

    from resources.alpaca_broker import AlpacaPaperBroker
    from resources.credentials import CredentialError, stored_credential
    from warehouse.repos import audit
    from warehouse.repos import credentials as repo

    suffix = "".join(ch if ch.isalnum() else "_" for ch in account_id.upper())
    url = url or os.environ.get(f"ALPACA_URL_{suffix}") or os.environ.get("ORAGAMI_ALPACA_URL") or None
    try:
        cred = stored_credential(wh, account_id)
        if cred is None:
            return False, f"account {account_id}: no stored credential"
        broker = (AlpacaPaperBroker(oauth_token=cred.oauth_token, url_override=url, label=account_id)
                  if cred.kind == "oauth" else
                  AlpacaPaperBroker(cred.key_id, cred.secret_key, url_override=url, label=account_id))
        broker.account()
    except Exception as exc:  # noqa: BLE001 - CredentialError, AlpacaBrokerError, refused URL: all reported
        reason = str(exc) if isinstance(exc, CredentialError) else f"{type(exc).__name__}: {exc}"
        repo.mark_verified(wh, account_id, ok=False, error=reason)
        audit.record(wh, action="broker_verified", actor="cli", role="operator", account_id=account_id,
                     origin="cli", detail=f"failed: {reason}")
        return False, f"account {account_id}: verification FAILED: {reason}"
    repo.mark_verified(wh, account_id, ok=True)
    audit.record(wh, action="broker_verified", actor="cli", role="operator", account_id=account_id, origin="cli",
                 detail=f"ok ({cred.kind})")
    return True, f"account {account_id}: {cred.kind} credential verified against the paper endpoint"


def cmd_verify(args) -> int:
    """Verify one account's (``--account``) or every account's (``--all``) stored credential."""
    from warehouse import AccountScope
    from warehouse.repos import credentials as repo

    wh = _wh(args)
    accounts = [args.account] if args.account else \
        sorted(set(repo.status(wh, AccountScope.all())["account_id"]))
    if not accounts:
        print("no stored broker credentials")
        return 0
    ok_all = True
    for account in accounts:
        ok, line = verify_account(wh, account, args.alpaca_url)
        (print if ok else _err)(line)
        ok_all &= ok
    return 0 if ok_all else EXIT_FAILED


def cmd_disconnect(args) -> int:
    """Delete ``--account``'s stored credential (audited)."""
    from dashboards.reads import credentials as creds
    from warehouse import AccountScope

    removed = creds.disconnect(_wh(args), AccountScope.all(), args.account, actor="cli", role="operator",
                               origin="cli")
    print(f"account {args.account}: " + ("stored credential deleted" if removed else "nothing was stored"))
    return 0


def cmd_rotate_key(args) -> int:
    """Re-encrypt every stored credential from ``ORAGAMI_MASTER_KEY`` to the key in ``--new-key-env``."""
    from resources.credentials import CredentialError, rotate_master_key
    from warehouse.repos.credentials import MasterKeyError, master_key_from_env

    try:
        old = master_key_from_env()
        new = master_key_from_env(args.new_key_env)
    except MasterKeyError as exc:
        _err(f"error: {exc}")
        return EXIT_USAGE
    wh = _wh(args)
    try:
        n = rotate_master_key(wh, old, new, actor="cli", role="operator", origin="cli")
    except (CredentialError, ValueError) as exc:
        _err(f"error: nothing re-encrypted: {exc}")
        return EXIT_USAGE
    print(f"re-encrypted {n} broker credential(s) from master key {old.version} to {new.version}; now set "
          f"ORAGAMI_MASTER_KEY to the new key (the value of {args.new_key_env}) wherever Dagster and the dashboard run")
    return 0


def register(sub) -> None:
    """Add this module's subcommands to the ``oragami`` parser's subparsers ``sub``."""
    from resources.credentials import NEW_MASTER_KEY_ENV

    c = sub.add_parser("credentials", help="broker credentials: connect, status, verify, disconnect, rotate-key")
    cs = c.add_subparsers(dest="credentials_command", required=True, help="one of the credentials commands below")

    n = cs.add_parser("new-master-key", help="print a fresh master key for ORAGAMI_MASTER_KEY")
    n.set_defaults(func=cmd_new_master_key)

    k = cs.add_parser("connect", help="store an account's paper key id + secret (read from stdin or prompted), "
                                      "validated against the paper endpoint first")
    k.add_argument("--account", required=True, help="the account whose paper keys are stored; required")
    k.set_defaults(func=cmd_connect)

    s = cs.add_parser("status", help="the stored credentials (nothing secret)")
    s.add_argument("--account", help="only this account (default: every account)")
    s.set_defaults(func=cmd_status)

    v = cs.add_parser("verify", help="decrypt and check stored credentials against the paper endpoint")
    g = v.add_mutually_exclusive_group(required=True)
    g.add_argument("--account", help="verify this account's credential (or --all)")
    g.add_argument("--all", action="store_true", help="verify every account's stored credential (or --account)")
    v.add_argument("--alpaca-url", help="paper API origin (loopback fakes allowed); default per account")
    v.set_defaults(func=cmd_verify)

    d = cs.add_parser("disconnect", help="delete an account's stored credential")
    d.add_argument("--account", required=True, help="the account whose stored credential is deleted; required")
    d.set_defaults(func=cmd_disconnect)

    r = cs.add_parser("rotate-key", help="re-encrypt every stored credential under a new master key")
    r.add_argument("--new-key-env", default=NEW_MASTER_KEY_ENV,
                   help=f"environment variable holding the new key (default {NEW_MASTER_KEY_ENV})")
    r.set_defaults(func=cmd_rotate_key)

    for cmd in (k, s, v, d, r):
        cmd.add_argument("--warehouse",
                         help="SQLAlchemy URL of the warehouse (default: ORAGAMI_WAREHOUSE_URL, else the DuckDB file "
                              "ORAGAMI_DUCKDB_PATH or ./var/oragami.duckdb)")
