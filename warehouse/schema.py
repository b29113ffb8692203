"""Warehouse tables: names, columns, keys and DDL, shared by the DuckDB and PostgreSQL backends.

Everything here is SQLAlchemy Core (:data:`metadata`); :meth:`warehouse.store.Warehouse.create_schema` issues the
DDL. Other modules (assets, dashboards) rely on these table and column names: add columns, never rename.

Conventions (style guide §5.3):

* ``session_date`` is a ``DATE``: the America/New_York trading date.
* ``*_at`` columns are ``TIMESTAMP WITH TIME ZONE`` (stored as UTC instants).
* Numbers are ``DOUBLE PRECISION`` (``Float(53)``). Units are in the column name or the comment on it:
  ``*_usd`` is US dollars, ``*_weight``/``daily_return``/``cagr``/``max_drawdown`` are fractions (0.01 = 1 %),
  ``qty`` is shares (fractional allowed), ``slippage_bps`` is basis points.
* Identifiers (``account_id``, ``symphony_id``, ``ticker``, ...) are ``TEXT``.
* Every user-scoped table carries a NOT NULL ``account_id`` (market data tables do not). Exception: ``users``,
  whose ``account_id`` is NULL for operators (they see every account).
* Cash in :data:`positions` is the row whose ``ticker`` is :data:`CASH_TICKER` (``qty`` = dollars, ``price`` = 1).
* :data:`indicator_values` uses ``window = 0`` (:data:`NO_WINDOW`) for functions without a window
  (``current-price``) and ``params = ''`` for functions without extra parameters, so both can be part of the
  primary key (primary-key columns cannot be NULL).

No foreign keys are declared: writers replace partitions with delete-then-insert, and DuckDB's foreign-key checks
would make deleting a parent row that still has children fail. Referential integrity is the writers' job.
"""
from __future__ import annotations

import sqlalchemy as sa

#: Ticker of the cash row in :data:`positions` (``qty`` = dollars, ``price`` = 1.0).
CASH_TICKER = "$USD"

#: ``indicator_values.window`` for indicator functions that take no window.
NO_WINDOW = 0

#: Default initial paper capital of a symphony, in USD.
DEFAULT_CAPITAL_USD = 10_000.0

SOURCE_FORMATS: tuple[str, ...] = ("json", "edn", "defsymphony")
SYMPHONY_STATUSES: tuple[str, ...] = ("active", "inactive")
RUN_STATUSES: tuple[str, ...] = ("ok", "failed", "skipped")
ORDER_SIDES: tuple[str, ...] = ("buy", "sell")
#: Dashboard roles: an analyst sees their own account(s); an operator every account and the live controls; an
#: admin also manages users, accounts and risk gates (docs/accounts.md).
USER_ROLES: tuple[str, ...] = ("analyst", "operator", "admin")
#: Active symphonies per account when ``accounts.max_active_symphonies`` is NULL (Composer's limit).
DEFAULT_MAX_ACTIVE_SYMPHONIES = 40

metadata = sa.MetaData()

# Column type shorthands: one place decides the SQL types for both backends.
Text = sa.Text
Number = sa.Float(precision=53)  # DOUBLE PRECISION on PostgreSQL, DOUBLE on DuckDB
Date = sa.Date
Timestamp = sa.DateTime(timezone=True)  # TIMESTAMP WITH TIME ZONE on both


def _in_check(column: str, values: tuple[str, ...], name: str) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=name)


def _account_id() -> sa.Column:
    return sa.Column("account_id", Text, nullable=False, comment="Owner of the row (multi-tenant scope).")


def _symphony_id() -> sa.Column:
    return sa.Column("symphony_id", Text, nullable=False)


def _session_date(primary_key: bool = False) -> sa.Column:
    return sa.Column("session_date", Date, nullable=False, primary_key=primary_key,
                     comment="America/New_York trading date.")


# --------------------------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------------------------

accounts = sa.Table(
    "accounts", metadata,
    sa.Column("account_id", Text, primary_key=True),
    sa.Column("name", Text),
    sa.Column("created_at", Timestamp, server_default=sa.func.now()),
    sa.Column("max_order_notional_usd", Number, comment="Risk gate: largest order sent, USD; NULL = no limit."),
    sa.Column("daily_loss_kill_pct", Number,
              comment="Risk gate: no new buys after the account lost more than this fraction since the last close."),
    sa.Column("max_active_symphonies", sa.Integer, server_default="40",
              comment="At most this many active symphonies trade (40, as Composer)."),
    sa.Column("dry_run", sa.Boolean, server_default=sa.false(), comment="Plan and record orders, never submit."),
    comment="Users / tenants. One row per account, with its risk settings.",
)

symphonies = sa.Table(
    "symphonies", metadata,
    sa.Column("symphony_id", Text, primary_key=True),
    _account_id(),
    sa.Column("name", Text),
    sa.Column("source_format", Text, nullable=False, comment="'json' | 'edn' | 'defsymphony'."),
    sa.Column("source_text", Text, comment="The symphony as submitted, verbatim."),
    sa.Column("parsed_json", Text, comment="engine.model tree serialised as JSON."),
    sa.Column("status", Text, nullable=False, server_default="active", comment="'active' | 'inactive'."),
    sa.Column("rebalance", Text, comment="Root rebalance rule ('daily', 'none', ...)."),
    sa.Column("capital_usd", Number, nullable=False, server_default=sa.text(str(DEFAULT_CAPITAL_USD)),
              comment="Initial paper capital, USD."),
    sa.Column("created_at", Timestamp, server_default=sa.func.now()),
    sa.Column("updated_at", Timestamp, server_default=sa.func.now()),
    sa.Column("last_edited_at", Timestamp,
              comment="When the symphony's source last changed (upload or edit): the default out-of-sample start."),
    _in_check("source_format", SOURCE_FORMATS, "ck_symphonies_source_format"),
    _in_check("status", SYMPHONY_STATUSES, "ck_symphonies_status"),
    comment="Registered symphonies, one row each; status='active' ones are evaluated daily.",
)

users = sa.Table(
    "users", metadata,
    sa.Column("username", Text, primary_key=True),
    sa.Column("password_hash", Text, nullable=False, comment="bcrypt hash (dashboards.auth), never the password."),
    sa.Column("role", Text, nullable=False,
              comment="'analyst' (own accounts) | 'operator' (every account) | 'admin' (and user management)."),
    sa.Column("account_id", Text, comment="The analyst's account; NULL for operators."),
    sa.Column("created_at", Timestamp, server_default=sa.func.now()),
    _in_check("role", USER_ROLES, "ck_users_role"),
    comment="Dashboard sign-ins (dashboards.auth.create_user).",
)

# --------------------------------------------------------------------------------------------------------------
# Market data
# --------------------------------------------------------------------------------------------------------------

daily_bars = sa.Table(
    "daily_bars", metadata,
    _session_date(primary_key=True),
    sa.Column("ticker", Text, primary_key=True),
    sa.Column("open", Number),
    sa.Column("high", Number),
    sa.Column("low", Number),
    sa.Column("close", Number, comment="Close, USD, on the basis named by 'adjustment' (raw when 'raw')."),
    sa.Column("adj_close", Number, nullable=False, comment="Split- and dividend-adjusted close, USD."),
    sa.Column("volume", Number, comment="Shares."),
    sa.Column("source", Text, comment="Data vendor ('eodhd', 'alpaca', 'bundled', ...)."),
    sa.Column("adjustment", Text, comment="'raw' | 'split' | 'dividend' | 'all' (of open..close)."),
    sa.Column("feed", Text, comment="Vendor feed: 'iex' | 'sip' (Alpaca), 'eod' (EODHD); NULL when none."),
    sa.Column("ingested_at", Timestamp),
    comment="Daily OHLCV bars per ticker and session.",
)

indicator_values = sa.Table(
    "indicator_values", metadata,
    _session_date(primary_key=True),
    sa.Column("ticker", Text, primary_key=True),
    sa.Column("fn", Text, primary_key=True, comment="engine.functions.FUNCTIONS name."),
    sa.Column("window", sa.Integer, primary_key=True, autoincrement=False,
              comment="Trading days; 0 (NO_WINDOW) for functions without a window."),
    sa.Column("params", Text, primary_key=True, server_default="",
              comment="engine.model.IndicatorRef.params_key: canonical JSON of the non-window params "
                      "(PPO/MACD windows, Bollinger width); '' when none."),
    sa.Column("value", Number),
    comment="Indicator values in long format.",
)

#: Derived tables rebuilt (dropped and re-created empty) by ``create_schema`` when an existing database has an
#: older primary key for them: the key cannot be changed additively, and their rows are recomputed by their asset
#: for each session. ``indicator_values`` gained ``params`` in its key (two PPO settings on one ticker).
REBUILD_ON_KEY_CHANGE: tuple[str, ...] = ("indicator_values",)

# --------------------------------------------------------------------------------------------------------------
# Strategy
# --------------------------------------------------------------------------------------------------------------

target_allocations = sa.Table(
    "target_allocations", metadata,
    _account_id(),
    sa.Column("symphony_id", Text, primary_key=True),
    _session_date(primary_key=True),
    sa.Column("ticker", Text, primary_key=True),
    sa.Column("target_weight", Number, nullable=False, comment="Fraction of NAV; a symphony's rows sum to 1."),
    comment="Target weights chosen by a symphony for a session.",
)

decision_traces = sa.Table(
    "decision_traces", metadata,
    _account_id(),
    sa.Column("symphony_id", Text, primary_key=True),
    _session_date(primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False, comment="Order of evaluation."),
    sa.Column("node_path", Text, comment="'root/0/2/1'."),
    sa.Column("node_type", Text),
    sa.Column("summary", Text, comment="One line for humans."),
    sa.Column("detail_json", Text, comment="Inputs and outcome of the node as JSON."),
    comment="Why a symphony chose its allocation: one row per evaluated node.",
)

symphony_runs = sa.Table(
    "symphony_runs", metadata,
    _account_id(),
    sa.Column("symphony_id", Text, primary_key=True),
    _session_date(primary_key=True),
    sa.Column("status", Text, nullable=False, comment="'ok' | 'failed' | 'skipped'."),
    sa.Column("reason", Text),
    sa.Column("evaluated_at", Timestamp),
    _in_check("status", RUN_STATUSES, "ck_symphony_runs_status"),
    comment="Outcome of evaluating a symphony for a session.",
)

# --------------------------------------------------------------------------------------------------------------
# Trading
# --------------------------------------------------------------------------------------------------------------

orders = sa.Table(
    "orders", metadata,
    sa.Column("client_order_id", Text, primary_key=True),
    _account_id(),
    _symphony_id(),
    _session_date(),
    sa.Column("ticker", Text, nullable=False),
    sa.Column("side", Text, nullable=False, comment="'buy' | 'sell'."),
    sa.Column("notional_usd", Number, comment="USD; NULL for qty orders."),
    sa.Column("qty", Number, comment="Shares; NULL for notional orders."),
    sa.Column("status", Text, comment="Broker order status ('new', 'filled', 'rejected', ...)."),
    sa.Column("broker_order_id", Text),
    sa.Column("reason", Text),
    sa.Column("submitted_at", Timestamp),
    sa.Column("filled_qty", Number, comment="Shares filled so far."),
    sa.Column("filled_avg_price", Number, comment="USD per share, average of the fills."),
    sa.Column("ref_price", Number, comment="The session's reference (live) price used to plan, USD."),
    sa.Column("first_attempt_at", Timestamp,
              comment="When a run first claimed this order for sending (warehouse.repos.orders."
                      "claim_first_attempts); NULL = never tried, so no broker can hold it."),
    _in_check("side", ORDER_SIDES, "ck_orders_side"),
    comment="Paper orders: one per account, session, ticker and side (symphony_id 'net' for netted orders).",
)

order_intents = sa.Table(
    "order_intents", metadata,
    _account_id(),
    sa.Column("symphony_id", Text, primary_key=True),
    _session_date(primary_key=True),
    sa.Column("ticker", Text, primary_key=True),
    sa.Column("delta_qty", Number, comment="Shares the symphony wants to buy (+) or sell (−)."),
    sa.Column("ref_price", Number, comment="USD per share used to plan and to cross internally."),
    sa.Column("liquidate", sa.Boolean, comment="The symphony sells its whole holding."),
    sa.Column("client_order_id", Text, comment="The netted account order; NULL when crossed or skipped."),
    sa.Column("disposition", Text, comment="'order' | 'crossed' | 'skipped'."),
    comment="Each symphony's wanted change per ticker on a session, netted into the account's orders.",
)

sim_broker_orders = sa.Table(
    "sim_broker_orders", metadata,
    sa.Column("client_order_id", Text, primary_key=True),
    _account_id(),
    _session_date(),
    sa.Column("broker_order_id", Text),
    sa.Column("ticker", Text, nullable=False),
    sa.Column("side", Text, nullable=False),
    sa.Column("notional_usd", Number),
    sa.Column("qty", Number),
    sa.Column("status", Text),
    sa.Column("filled_qty", Number),
    sa.Column("filled_avg_price", Number),
    sa.Column("reason", Text),
    sa.Column("submitted_at", Timestamp),
    comment="The offline simulated broker's own order book (what a real broker would hold).",
)

fills = sa.Table(
    "fills", metadata,
    sa.Column("fill_id", Text, primary_key=True),
    sa.Column("client_order_id", Text, nullable=False),
    _account_id(),
    _symphony_id(),
    _session_date(),
    sa.Column("ticker", Text, nullable=False),
    sa.Column("side", Text, nullable=False, comment="'buy' | 'sell'."),
    sa.Column("qty", Number, comment="Shares."),
    sa.Column("price", Number, comment="USD per share."),
    sa.Column("notional_usd", Number, comment="USD."),
    sa.Column("filled_at", Timestamp),
    _in_check("side", ORDER_SIDES, "ck_fills_side"),
    comment="Executions reported by the broker.",
)

positions = sa.Table(
    "positions", metadata,
    _account_id(),
    sa.Column("symphony_id", Text, primary_key=True),
    _session_date(primary_key=True),
    sa.Column("ticker", Text, primary_key=True, comment="'$USD' is the cash row."),
    sa.Column("qty", Number, nullable=False, comment="Shares; dollars for the cash row."),
    sa.Column("price", Number, comment="USD per share at the close; 1.0 for cash."),
    sa.Column("market_value_usd", Number, comment="qty * price, USD."),
    comment="End-of-session holdings per symphony, cash included.",
)

# --------------------------------------------------------------------------------------------------------------
# Performance
# --------------------------------------------------------------------------------------------------------------

daily_nav = sa.Table(
    "daily_nav", metadata,
    _account_id(),
    sa.Column("symphony_id", Text, primary_key=True),
    _session_date(primary_key=True),
    sa.Column("nav_usd", Number, nullable=False, comment="USD, positions + cash at the close."),
    sa.Column("cash_usd", Number, comment="USD."),
    sa.Column("daily_return", Number, comment="Fraction (0.01 = 1 %); NULL on the first session."),
    comment="Net asset value of each symphony's paper portfolio per session.",
)

performance_metrics = sa.Table(
    "performance_metrics", metadata,
    _account_id(),
    sa.Column("symphony_id", Text, primary_key=True),
    sa.Column("as_of_date", Date, primary_key=True, nullable=False),
    sa.Column("metric", Text, primary_key=True, comment="'cagr', 'sharpe', 'max_drawdown', ..."),
    sa.Column("value", Number, comment="Unit depends on the metric (see engine.metrics)."),
    comment="Headline metrics (long format) of each symphony as of a session.",
)

# --------------------------------------------------------------------------------------------------------------
# Backtests
# --------------------------------------------------------------------------------------------------------------

backtest_runs = sa.Table(
    "backtest_runs", metadata,
    sa.Column("run_id", Text, primary_key=True),
    _account_id(),
    _symphony_id(),
    sa.Column("start_date", Date),
    sa.Column("end_date", Date),
    sa.Column("capital_usd", Number, comment="USD."),
    sa.Column("slippage_bps", Number, comment="Basis points per trade."),
    sa.Column("config_json", Text),
    sa.Column("stats_json", Text),
    sa.Column("cagr", Number, comment="Fraction per year."),
    sa.Column("sharpe", Number, comment="Annualised, 252 periods."),
    sa.Column("max_drawdown", Number, comment="Largest peak-to-trough decline, positive fraction (0.25 = 25 %)."),
    sa.Column("created_at", Timestamp, server_default=sa.func.now()),
    comment="One row per backtest run.",
)

backtest_daily = sa.Table(
    "backtest_daily", metadata,
    sa.Column("run_id", Text, primary_key=True),
    _account_id(),
    _symphony_id(),
    _session_date(primary_key=True),
    sa.Column("nav_usd", Number, comment="USD."),
    sa.Column("daily_return", Number, comment="Fraction."),
    comment="Backtest equity curve.",
)

backtest_weights = sa.Table(
    "backtest_weights", metadata,
    sa.Column("run_id", Text, primary_key=True),
    _account_id(),
    _symphony_id(),
    _session_date(primary_key=True),
    sa.Column("ticker", Text, primary_key=True),
    sa.Column("weight", Number, comment="Fraction of NAV."),
    comment="Backtest holdings weights per session.",
)

backtest_traces = sa.Table(
    "backtest_traces", metadata,
    sa.Column("run_id", Text, primary_key=True),
    _account_id(),
    _symphony_id(),
    _session_date(primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False, comment="Order of evaluation (tree order)."),
    sa.Column("node_path", Text, comment="'root/0/2/1'."),
    sa.Column("node_type", Text, comment="'if' | 'filter' | 'wt-inverse-vol'."),
    sa.Column("summary", Text, comment="One line for humans."),
    sa.Column("detail_json", Text, comment="Inputs and outcome of the node as JSON."),
    comment="Backtest decision traces, stored only on sessions whose target weights changed from the previous "
            "session (and the first session); other sessions are replayed with engine.evaluate.",
)

sweep_results = sa.Table(
    "sweep_results", metadata,
    sa.Column("sweep_id", Text, primary_key=True),
    _account_id(),
    _symphony_id(),
    sa.Column("node_path", Text, nullable=False, comment="The swept node, 'root/0/0'."),
    sa.Column("field", Text, nullable=False, comment="The swept parameter ('window', 'rhs_window')."),
    sa.Column("value", sa.Integer, primary_key=True, autoincrement=False, comment="Parameter value, trading days."),
    sa.Column("start_date", Date, comment="First backtest session."),
    sa.Column("end_date", Date, comment="Last backtest session."),
    sa.Column("cagr", Number, comment="Fraction per year."),
    sa.Column("sharpe", Number, comment="Annualised, 252 periods."),
    sa.Column("max_drawdown", Number, comment="Largest peak-to-trough decline, positive fraction (0.25 = 25 %)."),
    sa.Column("calmar", Number, comment="CAGR / max drawdown."),
    sa.Column("final_value", Number, comment="Last NAV, USD."),
    sa.Column("config_json", Text, comment="The sweep's settings (window, capital, fees, ...) as JSON."),
    sa.Column("created_at", Timestamp, server_default=sa.func.now()),
    comment="Parameter sweep: one backtest per value of one node parameter, side by side.",
)

# --------------------------------------------------------------------------------------------------------------
# Audit trail (append-only: warehouse.repos.audit.record is the only writer)
# --------------------------------------------------------------------------------------------------------------

audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("event_id", Text, primary_key=True, comment="uuid4 hex."),
    sa.Column("occurred_at", Timestamp, nullable=False, comment="When it happened (UTC instant)."),
    sa.Column("actor", Text, comment="Username, or 'system' / 'dagster' for the scheduled job; NULL if unknown."),
    sa.Column("role", Text, comment="The actor's role at the time ('admin' | 'operator' | 'analyst' | 'system')."),
    sa.Column("account_id", Text, comment="The account the action concerns; NULL for platform-wide actions."),
    sa.Column("action", Text, nullable=False, comment="What happened: see warehouse.repos.audit.ACTIONS."),
    sa.Column("target", Text, comment="What it was done to (symphony id, username, order batch, ...)."),
    sa.Column("origin", Text, comment="From where: 'dashboard', 'cli', 'dagster', a client address."),
    sa.Column("detail", Text, comment="A short human-readable detail; never a secret."),
    comment="Append-only audit trail: who did what, to which account, when and from where.",
)

# --------------------------------------------------------------------------------------------------------------
# Area tables (one section per area; add new tables inside your own section)
# --------------------------------------------------------------------------------------------------------------

# --- section: users, sign-in and roles (issue 11) ---

# Columns added to the registry tables above (nullable: Warehouse.create_schema adds them to older warehouses).
users.append_column(sa.Column("is_demo", sa.Boolean,
                              comment="The published demo user: accepted only on a loopback server address."))
users.append_column(sa.Column("disabled_at", Timestamp, comment="When an admin disabled the user; NULL = enabled."))
users.append_column(sa.Column("must_change_password", sa.Boolean,
                              comment="Set by a password reset: the user sets a new password at next sign-in."))
users.append_column(sa.Column("session_epoch", sa.Integer,
                              comment="Bumped to sign the user out everywhere (NULL = 0); checked on every run."))
users.append_column(sa.Column("password_changed_at", Timestamp))
users.append_column(sa.Column("lock_cleared_at", Timestamp,
                              comment="Failed sign-ins before this instant no longer count towards a lock-out."))
accounts.append_column(sa.Column("disabled_at", Timestamp,
                                 comment="When an admin disabled the account; NULL = enabled."))

#: ``sign_in_attempts.outcome`` values: a checked password that matched or not, or refused unchecked (locked).
SIGN_IN_OUTCOMES: tuple[str, ...] = ("ok", "failed", "locked")

user_accounts = sa.Table(
    "user_accounts", metadata,
    sa.Column("username", Text, primary_key=True),
    sa.Column("account_id", Text, primary_key=True, comment="An account the user belongs to."),
    sa.Column("added_at", Timestamp, server_default=sa.func.now()),
    comment="Account memberships of analysts (one or more each); users.account_id mirrors the first one.",
)

sign_in_attempts = sa.Table(
    "sign_in_attempts", metadata,
    sa.Column("attempt_id", Text, primary_key=True, comment="uuid4 hex."),
    sa.Column("username", Text, nullable=False, comment="As typed (stripped); may name no user."),
    sa.Column("client", Text, nullable=False, comment="The client address, or 'unknown'."),
    sa.Column("attempted_at", Timestamp, nullable=False),
    sa.Column("outcome", Text, nullable=False, comment="'ok' | 'failed' | 'locked' (refused, password unchecked)."),
    _in_check("outcome", SIGN_IN_OUTCOMES, "ck_sign_in_attempts_outcome"),
    comment="Every dashboard sign-in attempt: the lock-out counts failures per username and per client.",
)


@sa.event.listens_for(metadata, "after_create")
def _migrate_users(target: sa.MetaData, connection: sa.Connection, **_: object) -> None:
    """Upgrade a ``users`` table of the two-role release (run by ``create_all``, inside create_schema's
    transaction): its CHECK allowed only 'analyst'/'operator', and CHECK constraints are not altered additively.
    PostgreSQL swaps the constraint; DuckDB (no DROP CONSTRAINT) rebuilds the table with its rows. Then every
    ``users.account_id`` becomes a membership row. Idempotent."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        found = connection.execute(sa.text(
            "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_class t ON c.conrelid = t.oid "
            "JOIN pg_namespace n ON t.relnamespace = n.oid WHERE t.relname = 'users' AND c.conname = 'ck_users_role' "
            "AND n.nspname = current_schema()")).scalar()
        if found is not None and "'admin'" not in found:
            connection.exec_driver_sql("ALTER TABLE users DROP CONSTRAINT ck_users_role")
            allowed = ", ".join(f"'{r}'" for r in USER_ROLES)
            connection.exec_driver_sql(f"ALTER TABLE users ADD CONSTRAINT ck_users_role CHECK (role IN ({allowed}))")
    elif dialect == "duckdb":
        ddl = connection.execute(sa.text("SELECT sql FROM duckdb_tables() WHERE table_name = 'users' "
                                         "AND schema_name = current_schema()")).scalar()
        if ddl is not None and "CHECK" in ddl and "'admin'" not in ddl:
            old = [r[0] for r in connection.execute(sa.text(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'users' "
                "AND table_schema = current_schema() ORDER BY ordinal_position"))]
            connection.exec_driver_sql("ALTER TABLE users RENAME TO users__two_roles")
            users.create(connection)
            cols = ", ".join(f'"{c}"' for c in old if c in users.c)
            connection.exec_driver_sql(f"INSERT INTO users ({cols}) SELECT {cols} FROM users__two_roles")
            connection.exec_driver_sql("DROP TABLE users__two_roles")
    connection.execute(sa.text(
        "INSERT INTO user_accounts (username, account_id, added_at) SELECT u.username, u.account_id, u.created_at "
        "FROM users u WHERE u.account_id IS NOT NULL AND u.role = 'analyst' AND NOT EXISTS (SELECT 1 FROM "
        "user_accounts m WHERE m.username = u.username AND m.account_id = u.account_id)"))

# --- section: broker credentials (issue 11) ---

#: ``broker_credentials.kind``: pasted paper API keys, or an OAuth 2.0 access token (Alpaca Connect).
CREDENTIAL_KINDS: tuple[str, ...] = ("api_key", "oauth")
#: ``broker_credentials.status``: usable, or refused by the broker at the last verification.
CREDENTIAL_STATUSES: tuple[str, ...] = ("connected", "failed")

broker_credentials = sa.Table(
    "broker_credentials", metadata,
    sa.Column("account_id", Text, primary_key=True, comment="The account these credentials trade."),
    sa.Column("kind", Text, primary_key=True, comment="'api_key' (paper key id + secret) or 'oauth' (token)."),
    sa.Column("key_id_hint", Text, comment="Not secret: the last 4 characters of the key id, or 'oauth'."),
    sa.Column("broker_account", Text, comment="Alpaca's account number answered by GET /v2/account (not secret)."),
    sa.Column("ciphertext", Text, nullable=False,
              comment="base64 AES-256-GCM ciphertext+tag of the credential JSON; never plain text."),
    sa.Column("nonce", Text, nullable=False, comment="base64 96-bit random GCM nonce (unique per encryption)."),
    sa.Column("key_version", Text, nullable=False,
              comment="Fingerprint of the master key that encrypted the row (not the key)."),
    sa.Column("connected_by", Text, comment="Username (or 'cli') that connected the account."),
    sa.Column("connected_at", Timestamp, nullable=False),
    sa.Column("last_verified_at", Timestamp, comment="Last time the paper endpoint accepted the credential."),
    sa.Column("status", Text, nullable=False, comment="'connected' or 'failed' (see last_error)."),
    sa.Column("last_error", Text, comment="Why the last verification failed; never a secret."),
    _in_check("kind", CREDENTIAL_KINDS, "ck_broker_credentials_kind"),
    _in_check("status", CREDENTIAL_STATUSES, "ck_broker_credentials_status"),
    comment="Broker credentials, encrypted at rest under the master key (ORAGAMI_MASTER_KEY, never stored).",
)

oauth_pending = sa.Table(
    "oauth_pending", metadata,
    sa.Column("state_hash", Text, primary_key=True, comment="sha256 hex of the OAuth state (the state itself is "
                                                              "never stored)."),
    sa.Column("account_id", Text, nullable=False, comment="The account being connected."),
    sa.Column("username", Text, nullable=False, comment="Who started the flow (only they may finish it)."),
    sa.Column("redirect_uri", Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("expires_at", Timestamp, nullable=False, comment="created_at + 10 minutes."),
    comment="OAuth authorization requests awaiting their redirect (one-time; the PKCE verifier is derived, not "
            "stored).",
)

# --- section: notifications / alerts (issue 10) ---

#: Kinds of alert events (``notifications.kind``).
NOTIFICATION_KINDS: tuple[str, ...] = ("run_failed", "check_failed", "symphony_liquidated", "kill_switch_tripped",
                                       "order_rejected", "warehouse_locked")
#: Delivery channels (``notifications.channel``); ``'none'`` records an event no channel was configured for.
NOTIFICATION_CHANNELS: tuple[str, ...] = ("webhook", "email", "none")
#: ``'sending'`` (claimed, delivery under way or interrupted), ``'sent'``, ``'failed'`` (retries exhausted),
#: ``'recorded'`` (no channel configured: nothing delivered).
NOTIFICATION_STATUSES: tuple[str, ...] = ("sending", "sent", "failed", "recorded")

notifications = sa.Table(
    "notifications", metadata,
    sa.Column("event_key", Text, primary_key=True,
              comment="The event's identity, e.g. 'run_failed:<run id>', 'symphony_liquidated:<session>:<symphony>'."),
    sa.Column("channel", Text, primary_key=True, comment="'webhook' | 'email' | 'none'."),
    sa.Column("kind", Text, nullable=False, comment="See NOTIFICATION_KINDS."),
    sa.Column("account_id", Text, comment="The account concerned; NULL for platform-wide events (a failed run)."),
    sa.Column("symphony_id", Text),
    sa.Column("session_date", Date, comment="America/New_York trading date the event belongs to, if any."),
    sa.Column("run_id", Text, comment="Dagster run id, if any."),
    sa.Column("title", Text, nullable=False, comment="One line (the e-mail subject)."),
    sa.Column("message", Text, nullable=False, comment="The text delivered; never a secret."),
    sa.Column("status", Text, nullable=False, comment="See NOTIFICATION_STATUSES."),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0", comment="Delivery attempts made."),
    sa.Column("last_error", Text, comment="The last delivery error, secrets redacted; NULL when sent."),
    sa.Column("created_at", Timestamp, nullable=False, comment="When the event was claimed for this channel."),
    sa.Column("sent_at", Timestamp, comment="When the channel accepted it; NULL unless sent."),
    _in_check("channel", NOTIFICATION_CHANNELS, "ck_notifications_channel"),
    _in_check("status", NOTIFICATION_STATUSES, "ck_notifications_status"),
    comment="Alert events and their delivery, one row per event and channel (the key makes delivery once).",
)

# --- section: live controls (issue 10) ---

#: Live controls an operator or the owning analyst can put on one symphony (warehouse.repos.controls).
CONTROL_KINDS: tuple[str, ...] = ("cash_until_rebalance", "skip_next_rebalance")
#: ``symphony_controls.status``: 'open' (acting), 'consumed' (done at ``consumed_session``), 'cleared' (withdrawn).
CONTROL_STATUSES: tuple[str, ...] = ("open", "consumed", "cleared")

symphony_controls = sa.Table(
    "symphony_controls", metadata,
    sa.Column("control_id", Text, primary_key=True, comment="uuid4 hex."),
    _account_id(),
    _symphony_id(),
    sa.Column("control", Text, nullable=False, comment="'cash_until_rebalance' | 'skip_next_rebalance'."),
    sa.Column("status", Text, nullable=False, server_default="open", comment="'open' | 'consumed' | 'cleared'."),
    sa.Column("effective_session", Date, nullable=False, comment="First session the control acts on."),
    sa.Column("set_by", Text, nullable=False, comment="Username that set it."),
    sa.Column("set_role", Text, comment="Its role then ('operator' | 'analyst')."),
    sa.Column("set_at", Timestamp, nullable=False),
    sa.Column("origin", Text, comment="'dashboard' | 'cli'."),
    sa.Column("note", Text),
    sa.Column("started_session", Date, comment="cash_until_rebalance: the session it sold to cash."),
    sa.Column("consumed_session", Date, comment="The session it ended on (the scheduled rebalance it acted on)."),
    sa.Column("cleared_by", Text),
    sa.Column("cleared_at", Timestamp),
    _in_check("control", CONTROL_KINDS, "ck_symphony_controls_control"),
    _in_check("status", CONTROL_STATUSES, "ck_symphony_controls_status"),
    comment="Live controls per symphony: go to cash until the next scheduled rebalance, skip the next one.",
)

# --- section: replay (issue 12) ---

replay_runs = sa.Table(
    "replay_runs", metadata,
    _account_id(),
    sa.Column("start_date", Date, nullable=False, comment="First replayed session."),
    sa.Column("end_date", Date, nullable=False, comment="Last replayed session."),
    sa.Column("sessions", sa.Integer, comment="Sessions replayed."),
    sa.Column("symphonies", sa.Integer, comment="Symphonies of the account traded in the replay."),
    sa.Column("sizing", Text, comment="'exact' (the backtest's cost-exact sizing) | 'buffered' (the graph's planner)."),
    sa.Column("slippage_bps", Number, comment="Basis points of the simulated broker's fills."),
    sa.Column("apply_reg_fee", sa.Boolean, comment="SEC fee charged on sales."),
    sa.Column("apply_taf_fee", sa.Boolean, comment="FINRA TAF charged on sales."),
    sa.Column("apply_cat_fee", sa.Boolean, comment="CAT fee charged on every fill."),
    sa.Column("elapsed_s", Number, comment="Wall seconds of the replay (evaluation, fills and writes)."),
    sa.Column("created_at", Timestamp, server_default=sa.func.now()),
    sa.PrimaryKeyConstraint("account_id", "start_date", "end_date", name="pk_replay_runs"),
    comment="One row per account and replayed range (oragami replay / the paper_replay job); re-running a range "
            "replaces it.",
)


# --- section: research: out-of-sample, walk-forward, overfitting (issue 13) ---

#: Segments of an out-of-sample split (engine.oos.SEGMENTS) and the series split.
OOS_SEGMENTS: tuple[str, ...] = ("in_sample", "out_of_sample", "full")
OOS_SERIES: tuple[str, ...] = ("strategy", "benchmark")


def _study_key() -> list[sa.Column]:
    return [sa.Column("symphony_id", Text, primary_key=True),
            sa.Column("study", Text, primary_key=True, comment="The study's partition key (its name).")]


research_oos_stats = sa.Table(
    "research_oos_stats", metadata,
    sa.Column("run_id", Text, primary_key=True, comment="backtest_runs.run_id of the research backtest."),
    _account_id(),
    _symphony_id(),
    sa.Column("oos_start", Date, nullable=False, comment="First out-of-sample day."),
    sa.Column("oos_source", Text, comment="'config' (the run config) | 'last_edit' (the registry's last edit)."),
    sa.Column("segment", Text, primary_key=True, comment="'in_sample' | 'out_of_sample' | 'full'."),
    sa.Column("series", Text, primary_key=True, comment="'strategy' | 'benchmark'."),
    sa.Column("stat", Text, primary_key=True, comment="engine.metrics.full_stats key ('sharpe_ratio', ...)."),
    sa.Column("start_date", Date, comment="First session of the segment."),
    sa.Column("end_date", Date, comment="Last session of the segment."),
    sa.Column("value", Number, comment="Fraction or ratio (see engine.metrics); NULL where undefined."),
    _in_check("segment", OOS_SEGMENTS, "ck_research_oos_stats_segment"),
    _in_check("series", OOS_SERIES, "ck_research_oos_stats_series"),
    comment="Composer stats of a research backtest over its in-sample, out-of-sample and whole periods.",
)

research_studies = sa.Table(
    "research_studies", metadata,
    *_study_key(),
    _account_id(),
    sa.Column("spec_json", Text, comment="The study's configuration (grid, windows, objective, backtest) as JSON."),
    sa.Column("objective", Text, comment="Stat key optimised ('sharpe_ratio', ...)."),
    sa.Column("anchored", sa.Boolean, comment="Anchored (True) or rolling in-sample windows."),
    sa.Column("is_sessions", sa.Integer, comment="In-sample window, sessions."),
    sa.Column("oos_sessions", sa.Integer, comment="Out-of-sample step, sessions."),
    sa.Column("min_trades", sa.Integer, comment="Least allocation changes in an in-sample window."),
    sa.Column("n_configs", sa.Integer, comment="Configurations (trials) in the grid."),
    sa.Column("first_session", Date, comment="First session common to every configuration."),
    sa.Column("last_session", Date),
    sa.Column("oos_cagr", Number, comment="Stitched out-of-sample annualised return, fraction."),
    sa.Column("oos_sharpe", Number, comment="Stitched out-of-sample Sharpe, annualised."),
    sa.Column("oos_max_drawdown", Number, comment="Stitched out-of-sample max drawdown, positive fraction."),
    sa.Column("best_config_idx", sa.Integer, comment="Configuration with the best full-sample objective."),
    sa.Column("pbo", Number, comment="Probability of backtest overfitting (CSCV), 0..1; NULL if not computable."),
    sa.Column("pbo_splits", sa.Integer, comment="S, submatrices of the CSCV."),
    sa.Column("dsr", Number, comment="Deflated Sharpe ratio of the full-sample best, 0..1."),
    sa.Column("dsr_sr", Number, comment="That configuration's Sharpe, per day (not annualised)."),
    sa.Column("dsr_sr0", Number, comment="Expected max Sharpe of N worthless trials, per day."),
    sa.Column("stats_json", Text, comment="Stitched OOS stats, PBO/DSR details, stability summary, as JSON."),
    sa.Column("seconds", Number, comment="Wall seconds of the study's backtests."),
    sa.Column("created_at", Timestamp, server_default=sa.func.now()),
    comment="One walk-forward study of one symphony (partition symphony x study): its settings and headline figures.",
)

research_study_configs = sa.Table(
    "research_study_configs", metadata,
    *_study_key(),
    sa.Column("config_idx", sa.Integer, primary_key=True, autoincrement=False, comment="0..N-1, grid order."),
    _account_id(),
    sa.Column("label", Text, comment="'root/0/0.window=10, ...'."),
    sa.Column("params_json", Text, comment="{parameter: value} as JSON."),
    sa.Column("objective", Number, comment="Full-sample value of the study's objective."),
    sa.Column("cagr", Number, comment="Full-sample annualised return, fraction."),
    sa.Column("sharpe", Number, comment="Full-sample Sharpe, annualised."),
    sa.Column("max_drawdown", Number, comment="Full-sample max drawdown, positive fraction."),
    sa.Column("trades", sa.Integer, comment="Sessions whose target allocation changed."),
    sa.Column("times_chosen", sa.Integer, comment="Walk-forward windows that chose this configuration."),
    comment="Every configuration of a study's grid with its full-sample figures (the parameter heat map).",
)

research_wf_windows = sa.Table(
    "research_wf_windows", metadata,
    *_study_key(),
    sa.Column("window", sa.Integer, primary_key=True, autoincrement=False, comment="0-based, in time order."),
    _account_id(),
    sa.Column("is_start", Date), sa.Column("is_end", Date),
    sa.Column("oos_start", Date), sa.Column("oos_end", Date),
    sa.Column("eligible", sa.Integer, comment="Configurations meeting the minimum-trades rule."),
    sa.Column("config_idx", sa.Integer, comment="Chosen configuration; -1 = none eligible (cash)."),
    sa.Column("label", Text),
    sa.Column("params_json", Text, comment="Chosen {parameter: value} as JSON."),
    sa.Column("is_objective", Number, comment="In-sample objective of the choice."),
    sa.Column("oos_objective", Number, comment="Its objective over the out-of-sample step."),
    sa.Column("oos_return", Number, comment="Compounded return over the out-of-sample step, fraction."),
    comment="Walk-forward windows: the parameters chosen in sample and their out-of-sample result.",
)

research_wf_curves = sa.Table(
    "research_wf_curves", metadata,
    *_study_key(),
    _session_date(primary_key=True),
    _account_id(),
    sa.Column("oos_return", Number, comment="Stitched out-of-sample daily return, fraction."),
    sa.Column("oos_growth", Number, comment="Growth of 1 of the stitched returns."),
    sa.Column("best_growth", Number, comment="Growth of 1 of the full-sample best configuration, same sessions."),
    sa.Column("original_growth", Number, comment="Growth of 1 of the symphony as written, same sessions."),
    comment="The stitched out-of-sample equity curve against the full-sample ones.",
)

research_param_stability = sa.Table(
    "research_param_stability", metadata,
    *_study_key(),
    sa.Column("param", Text, primary_key=True, comment="'root/0/0.window'."),
    sa.Column("value", Number, primary_key=True, comment="Grid value (trading days, count or threshold)."),
    _account_id(),
    sa.Column("chosen", sa.Integer, comment="Windows that chose this value."),
    sa.Column("share", Number, comment="chosen / windows with a choice."),
    sa.Column("mean_objective", Number, comment="Mean full-sample objective of the configurations with this value."),
    sa.Column("mean_relative_drop", Number,
              comment="Mean over windows of (chosen - neighbours) / |chosen| in-sample objective, this parameter."),
    comment="Parameter stability of a walk-forward: how often each value is chosen, how far neighbours fall.",
)

research_sweep_overfitting = sa.Table(
    "research_sweep_overfitting", metadata,
    sa.Column("sweep_id", Text, primary_key=True, comment="sweep_results.sweep_id."),
    _account_id(),
    _symphony_id(),
    sa.Column("n_trials", sa.Integer),
    sa.Column("sessions", sa.Integer, comment="Sessions common to every value (rows of the CSCV matrix)."),
    sa.Column("pbo", Number, comment="Probability of backtest overfitting (CSCV), 0..1."),
    sa.Column("pbo_splits", sa.Integer),
    sa.Column("dsr", Number, comment="Deflated Sharpe ratio of the best value, 0..1."),
    sa.Column("dsr_sr", Number, comment="Best value's Sharpe, per day."),
    sa.Column("dsr_sr0", Number, comment="Expected max Sharpe of N worthless trials, per day."),
    sa.Column("best_value", Number),
    comment="Overfitting statistics of a parameter sweep.",
)


# Secondary indexes, PostgreSQL only: DuckDB's zone maps serve these scans, and ART indexes would slow its bulk
# inserts down.
for _name, _table, _cols in (
    ("ix_symphonies_account", symphonies, ("account_id",)),
    ("ix_daily_bars_ticker_date", daily_bars, ("ticker", "session_date")),
    ("ix_orders_symphony_date", orders, ("symphony_id", "session_date")),
    ("ix_fills_symphony_date", fills, ("symphony_id", "session_date")),
    ("ix_fills_client_order", fills, ("client_order_id",)),
    ("ix_backtest_runs_symphony", backtest_runs, ("symphony_id",)),
):
    sa.Index(_name, *(_table.c[c] for c in _cols)).ddl_if(dialect="postgresql")

#: Every table by name.
TABLES: dict[str, sa.Table] = dict(metadata.tables)

#: Tables whose rows belong to an account (they have an ``account_id`` column).
USER_SCOPED_TABLES: tuple[str, ...] = tuple(name for name, t in TABLES.items() if "account_id" in t.c)

__all__ = [
    "CASH_TICKER", "NO_WINDOW", "DEFAULT_CAPITAL_USD", "SOURCE_FORMATS", "SYMPHONY_STATUSES", "RUN_STATUSES",
    "ORDER_SIDES", "USER_ROLES", "DEFAULT_MAX_ACTIVE_SYMPHONIES", "metadata", "TABLES", "USER_SCOPED_TABLES",
    "accounts", "symphonies", "users", "daily_bars", "indicator_values", "target_allocations", "decision_traces",
    "symphony_runs", "orders", "fills", "positions", "daily_nav", "performance_metrics", "backtest_runs",
    "backtest_daily", "backtest_weights", "backtest_traces", "sweep_results", "audit_log",
    "SIGN_IN_OUTCOMES", "user_accounts", "sign_in_attempts",
    "CONTROL_KINDS", "CONTROL_STATUSES", "symphony_controls",
    "CREDENTIAL_KINDS", "CREDENTIAL_STATUSES", "broker_credentials", "oauth_pending",
    "NOTIFICATION_KINDS", "NOTIFICATION_CHANNELS", "NOTIFICATION_STATUSES", "notifications",
    "replay_runs",
    "OOS_SEGMENTS", "OOS_SERIES", "research_oos_stats", "research_studies", "research_study_configs",
    "research_wf_windows", "research_wf_curves", "research_param_stability", "research_sweep_overfitting",
]
