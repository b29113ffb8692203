"""Broker resources: one :class:`engine.broker.Broker` per account for the trading assets.

* :class:`SimulatedBroker` — the offline paper broker: fills market orders at the session's price (adjusted
  close, the live-price proxy offline) with the backtest's cost model (:class:`engine.costs.CostModel`: slippage
  against the trader plus the dated SEC, TAF and CAT fees); its own order book lives in the warehouse table
  ``sim_broker_orders``.
* :class:`AlpacaBroker` — Alpaca **paper** accounts through alpaca-py (:mod:`resources.alpaca_broker`).

Configuration is read when a run starts (resource fields, ``dg.EnvVar``), never at import time.
"""
from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd
from pydantic import Field, PrivateAttr

from engine.broker import AccountSnapshot, Broker, BrokerOrder, OrderRequest, ReliableBroker, RetryPolicy
from engine.costs import CostModel
from warehouse import Warehouse


class BrokerResource(dg.ConfigurableResource):
    """Gives the trading assets one :class:`engine.broker.Broker` per account.

    Subclasses implement :meth:`for_account` (one request per call, no retry); the assets use :meth:`connect`,
    which wraps it in the resource's one :class:`engine.broker.RetryPolicy` (exactly-once submission, retried
    look-ups, reconciliation reads and late-fill refreshes).
    """

    def for_account(self, account_id: str, warehouse: Warehouse, prices: dict[str, float],
                    session: dt.date) -> Broker:  # pragma: no cover - overridden
        raise NotImplementedError

    def retry_policy(self) -> RetryPolicy:
        """The bounded retry policy of every broker call (default: 4 tries, no wait — the offline broker)."""
        return RetryPolicy(attempts=4, first_wait_s=0.0, max_wait_s=0.0, sleep=lambda s: None)

    def connect(self, account_id: str, warehouse: Warehouse, prices: dict[str, float],
                session: dt.date) -> ReliableBroker:
        """The account's broker with :meth:`retry_policy` applied to every call (see :class:`ReliableBroker`).

        Args:
            prices: reference price per ticker (USD) the simulated broker fills at; ignored by real brokers.
        """
        return ReliableBroker(self.for_account(account_id, warehouse, prices, session), self.retry_policy(),
                              account_id)

    def reconciles(self) -> bool:
        """True when the broker's own positions are independent of our ledgers (worth reconciling)."""
        return False


class SimulatedBroker(BrokerResource):
    """Offline paper broker with the same rules and ledger model as Alpaca paper trading.

    Every market order fills in full at once, priced by the same :class:`engine.costs.CostModel` as the backtest
    (paper = backtest by construction): a buy at ``price·(1+s)``, a sell at ``price·(1−s)``,
    ``s = slippage_bps/10_000`` (default 1 bp, the backtest's default), where ``price`` is the session's reference
    price, plus the SEC fee and FINRA TAF on sales and the CAT fee on both sides at the rates in force on the
    session (:mod:`engine.fees`). The reported ``filled_avg_price`` is the all-in price per share
    (:attr:`engine.costs.FillCost.net_price`: proceeds net of fees for a sale, cost plus fees for a buy), so a
    ledger that books ``qty · filled_avg_price`` books the fees too. Notional buys spend at most the notional all
    in. The broker's own order book lives in the warehouse table ``sim_broker_orders`` (what a real broker would
    hold), so a re-run finds orders by client id exactly as it would at Alpaca.
    """

    slippage_bps: float = Field(default=1.0, description="basis points of price paid on every fill")
    apply_reg_fee: bool = Field(default=True, description="charge the SEC Section 31 fee on sales (dated rates)")
    apply_taf_fee: bool = Field(default=True, description="charge the FINRA TAF on sales (dated rate and cap)")
    apply_cat_fee: bool = Field(default=True, description="charge the CAT fee on buys and sales (dated rate)")

    def cost_model(self) -> CostModel:
        """The :class:`engine.costs.CostModel` of these settings (the backtest's, for the same settings)."""
        return CostModel(self.slippage_bps, self.apply_reg_fee, self.apply_taf_fee, self.apply_cat_fee)

    def for_account(self, account_id: str, warehouse: Warehouse, prices: dict[str, float],
                    session: dt.date) -> Broker:
        return SimulatedAccount(account_id, warehouse, prices, session, self.cost_model())


class SimulatedAccount:
    """One account at the simulated broker (implements :class:`engine.broker.Broker`).

    ``costs`` is the :class:`engine.costs.CostModel` fills are priced with; a bare float is a slippage fraction
    (``0.0001`` = 1 bp) with the model's default fees.
    """

    def __init__(self, account_id: str, warehouse: Warehouse, prices: dict[str, float], session: dt.date,
                 costs: CostModel | float) -> None:
        self.account_id = account_id
        self._wh = warehouse
        self._prices = prices
        self._session = session
        self._costs = costs if isinstance(costs, CostModel) else CostModel(slippage_bps=float(costs) * 10_000.0)

    def __repr__(self) -> str:
        return f"SimulatedAccount({self.account_id!r}, session={self._session})"

    def _row_to_order(self, r: dict) -> BrokerOrder:
        def num(x):
            return None if x is None or (isinstance(x, float) and x != x) else float(x)

        reason = r["reason"] if isinstance(r["reason"], str) and r["reason"] else None   # NULL reads as NaN
        return BrokerOrder(client_order_id=r["client_order_id"], broker_order_id=r["broker_order_id"],
                           ticker=r["ticker"], side=r["side"], status=r["status"], notional_usd=num(r["notional_usd"]),
                           qty=num(r["qty"]), filled_qty=num(r["filled_qty"]) or 0.0,
                           filled_avg_price=num(r["filled_avg_price"]), reason=reason,
                           submitted_at=r["submitted_at"])

    def account(self) -> AccountSnapshot:
        book = self._wh.read("sim_broker_orders", where={"account_id": self.account_id})
        positions: dict[str, float] = {}
        for r in book.to_dict("records"):
            sign = 1.0 if r["side"] == "buy" else -1.0
            positions[r["ticker"]] = positions.get(r["ticker"], 0.0) + sign * float(r["filled_qty"] or 0.0)
        return AccountSnapshot(cash_usd=float("nan"), buying_power_usd=float("nan"),
                               positions={t: q for t, q in positions.items() if abs(q) > 1e-9})

    def get_order(self, client_order_id: str) -> BrokerOrder | None:
        rows = self._wh.read("sim_broker_orders", where={"client_order_id": client_order_id})
        return self._row_to_order(rows.to_dict("records")[0]) if len(rows) else None

    def submit(self, order: OrderRequest) -> BrokerOrder:
        if order.ticker not in self._prices:
            result = BrokerOrder(order.client_order_id, f"sim-{order.client_order_id}", order.ticker, order.side,
                                 "rejected", order.notional_usd, order.qty, reason=f"no price for {order.ticker}")
        else:
            ref = float(self._prices[order.ticker])
            if order.qty is not None:
                fill = self._costs.fill(order.side, float(order.qty), ref, self._session)
            elif order.side == "buy":
                fill = self._costs.buy_for_notional(float(order.notional_usd), ref, self._session)
            else:
                fp = self._costs.fill_price("sell", ref)
                fill = self._costs.fill("sell", float(order.notional_usd) / fp if fp > 0 else 0.0, ref,
                                        self._session)
            result = BrokerOrder(order.client_order_id, f"sim-{order.client_order_id}", order.ticker, order.side,
                                 "filled", order.notional_usd, order.qty, filled_qty=float(fill.shares),
                                 filled_avg_price=float(fill.net_price),
                                 submitted_at=dt.datetime.now(dt.timezone.utc))
        row = {"client_order_id": result.client_order_id, "account_id": self.account_id,
               "session_date": self._session, "broker_order_id": result.broker_order_id, "ticker": result.ticker,
               "side": result.side, "notional_usd": result.notional_usd, "qty": result.qty, "status": result.status,
               "filled_qty": result.filled_qty, "filled_avg_price": result.filled_avg_price,
               "reason": result.reason, "submitted_at": result.submitted_at}
        self._wh.upsert("sim_broker_orders", pd.DataFrame([row]), ["client_order_id"])
        return result

    def orders_for_session(self, session: dt.date) -> list[BrokerOrder]:
        rows = self._wh.read("sim_broker_orders", where={"account_id": self.account_id, "session_date": session})
        return [self._row_to_order(r) for r in rows.to_dict("records")]

    def calendar(self, start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.datetime, dt.datetime]]:
        """The offline broker has no calendar of its own (``exchange_calendars`` is the source): ``[]``."""
        return []


def _env_key(account_id: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in account_id.upper())


class AlpacaBroker(BrokerResource):
    """Alpaca **paper** accounts through alpaca-py (``resources.alpaca_broker.AlpacaPaperBroker``).

    Credentials, per account, when a run needs them:

    1. the account's **stored credential** (``broker_credentials``, connected from the dashboard's account
       settings or ``oragami credentials connect``), decrypted now with the master key from the environment
       variable named by ``master_key_env`` (:mod:`resources.credentials`): paper keys, or an OAuth token sent as
       ``Authorization: Bearer``. A stored credential that cannot be opened (no or wrong master key, tampered
       row) fails that account alone with a clear reason (logged, and one ``run_failed`` audit event per run),
       never falling back silently to other keys;
    2. otherwise the environment (single-user set-ups): ``ALPACA_API_KEY_<ACCOUNT>`` and
       ``ALPACA_SECRET_KEY_<ACCOUNT>`` (account id upper-cased, other characters as ``_``), falling back to
       ``ALPACA_API_KEY`` / ``ALPACA_SECRET_KEY``.

    Nothing secret is logged or put in an error. ``url_override`` (or, per account,
    ``ALPACA_URL_<ACCOUNT>``) may only point at the paper endpoint or a loopback fake (anything else is refused
    before any request). Tickers are mapped between
    Composer (``BRK/B``) and Alpaca (``BRK.B``).
    """

    url_override: str | None = Field(default=None, description="paper API origin, e.g. a local fake; default: paper")
    backoff_s: float = Field(default=1.0, description="first retry wait after a transient error, seconds")
    master_key_env: str = Field(default="ORAGAMI_MASTER_KEY",
                                description="name of the environment variable holding the master key that "
                                            "decrypts stored credentials (read at run time; never stored)")
    _failures_reported: set = PrivateAttr(default_factory=set)

    def for_account(self, account_id: str, warehouse: Warehouse, prices: dict[str, float],
                    session: dt.date) -> Broker:
        """The account's paper broker (stored credential, else the environment keys; see the class docstring).

        Raises:
            resources.credentials.CredentialError: a stored credential that cannot be opened (names the account).
            ValueError: no credential at all, or a refused endpoint.
        """
        import os

        from resources.alpaca_broker import AlpacaPaperBroker
        from resources.credentials import CredentialError, stored_credential

        suffix = _env_key(account_id)
        url = os.environ.get(f"ALPACA_URL_{suffix}") or self.url_override or None   # paper or loopback only
        policy = self.retry_policy()
        label = f"alpaca-paper:{account_id}"
        try:
            cred = stored_credential(warehouse, account_id, key_env=self.master_key_env)
        except CredentialError as exc:
            self._report_failure(warehouse, account_id, str(exc))
            raise
        if cred is not None and cred.kind == "oauth":
            inner = AlpacaPaperBroker(oauth_token=cred.oauth_token, url_override=url, backoff=policy.wait_s,
                                      sleep=policy.sleep, label=label)
            return ComposerTickers(inner)
        if cred is not None:
            key, secret = cred.key_id, cred.secret_key
        else:
            key = os.environ.get(f"ALPACA_API_KEY_{suffix}") or os.environ.get("ALPACA_API_KEY")
            secret = os.environ.get(f"ALPACA_SECRET_KEY_{suffix}") or os.environ.get("ALPACA_SECRET_KEY")
        if not key or not secret:
            raise ValueError(f"no Alpaca paper credentials for account {account_id!r}: connect it (dashboard account "
                             f"settings or `oragami credentials connect`), or set ALPACA_API_KEY_{suffix} and "
                             f"ALPACA_SECRET_KEY_{suffix} (or ALPACA_API_KEY / ALPACA_SECRET_KEY)")
        inner = AlpacaPaperBroker(key, secret, url_override=url, backoff=policy.wait_s, sleep=policy.sleep,
                                  label=label)
        return ComposerTickers(inner)

    def _report_failure(self, warehouse: Warehouse, account_id: str, reason: str) -> None:
        """Log and audit (once per account per run) why the account's stored credential cannot be used."""
        import logging

        from warehouse.repos import audit

        if account_id in self._failures_reported:
            return
        self._failures_reported.add(account_id)
        logging.getLogger(__name__).error("broker credential unusable: %s", reason)
        try:
            audit.record(warehouse, action="run_failed", actor="system", role="system", account_id=account_id,
                         target="broker_credentials", origin="dagster", detail=reason)
        except Exception as exc:  # noqa: BLE001 - the audit line must not hide the real failure
            logging.getLogger(__name__).warning("audit record failed: %s", type(exc).__name__)

    def retry_policy(self) -> RetryPolicy:
        """4 tries; waits ``backoff_s``, 2·``backoff_s``, 4·``backoff_s`` (capped at 8 s) between them."""
        return RetryPolicy(attempts=4, first_wait_s=self.backoff_s, max_wait_s=max(8.0, self.backoff_s))

    def reconciles(self) -> bool:
        return True


class ComposerTickers:
    """Adapts a broker that speaks Alpaca symbols (``BRK.B``) to Composer tickers (``BRK/B``)."""

    def __init__(self, inner) -> None:
        self._inner = inner

    def __repr__(self) -> str:
        return f"ComposerTickers({self._inner!r})"

    @staticmethod
    def _back(order: BrokerOrder | None) -> BrokerOrder | None:
        if order is None:
            return None
        from dataclasses import replace

        from engine.tickers import from_alpaca

        return replace(order, ticker=from_alpaca(order.ticker))

    def _out(self, order: OrderRequest) -> OrderRequest:
        from dataclasses import replace

        from engine.tickers import to_alpaca

        return replace(order, ticker=to_alpaca(order.ticker))

    def account(self) -> AccountSnapshot:
        from engine.tickers import from_alpaca

        snap = self._inner.account()
        return AccountSnapshot(snap.cash_usd, snap.buying_power_usd,
                               {from_alpaca(t): q for t, q in snap.positions.items()})

    def get_order(self, client_order_id: str) -> BrokerOrder | None:
        return self._back(self._inner.get_order(client_order_id))

    def submit(self, order: OrderRequest) -> BrokerOrder:
        return self._back(self._inner.submit(self._out(order)))

    def orders_for_session(self, session: dt.date) -> list[BrokerOrder]:
        return [self._back(o) for o in self._inner.orders_for_session(session)]

    def calendar(self, start: dt.date, end: dt.date):
        """The broker's trading calendar: ``[(date, open, close)]``, tz-aware America/New_York."""
        return self._inner.calendar(start, end)
