"""Alert channels: a Slack-compatible webhook and e-mail (SMTP), with bounded retries, recorded once per channel.

:class:`AlertsResource` is the Dagster resource the alert sensors (:mod:`pipelines.sensors`) and the CLI use. It is
configured from the environment, read when an alert is sent (never at import time), so nothing secret sits in the
code location's config or the Dagster UI:

==================================  ====================================================================
``ORAGAMI_ALERT_WEBHOOK_URL``       Slack-compatible incoming webhook (POST ``{"text": ...}``); secret
``ORAGAMI_ALERT_SMTP_HOST``         SMTP server; with ``..._FROM`` and ``..._TO`` enables e-mail
``ORAGAMI_ALERT_SMTP_PORT``         default 587 (465 with ``ssl``, 25 with ``none``)
``ORAGAMI_ALERT_SMTP_SECURITY``     ``starttls`` (default), ``ssl`` or ``none`` (a local relay only)
``ORAGAMI_ALERT_SMTP_USER``         login user (no login when unset)
``ORAGAMI_ALERT_SMTP_PASSWORD``     login password; secret
``ORAGAMI_ALERT_SMTP_FROM``         sender address
``ORAGAMI_ALERT_SMTP_TO``           recipients, comma-separated
==================================  ====================================================================

Nothing configured: alerts are recorded (channel ``'none'``, status ``'recorded'``) and delivered nowhere.

Delivery (:meth:`AlertsResource.notify`): for each alert and each configured channel, the pair is claimed in the
``notifications`` table (:func:`warehouse.repos.notifications.claim`) — an already claimed pair is skipped, which
makes delivery once per channel however often a sensor re-evaluates — then sent with up to ``attempts`` tries and
exponential back-off (``tenacity``; transient errors only: connection failures, timeouts, HTTP 429/5xx, SMTP 4xx),
each try bounded by ``timeout_s``; once a channel stayed unreachable through its retries, the
following alerts of the same call get one try each on it (a sensor tick must stay well under a minute). The outcome (``sent``/``failed``, attempts, last error) is recorded. One channel
failing never stops another. Errors are redacted (the webhook URL, its path and the SMTP password never appear in a
log line or the warehouse). When the warehouse itself is locked (:class:`warehouse.WarehouseLockedError`), an alert
is still delivered, unrecorded.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import smtplib
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol

import dagster as dg
import tenacity
from pydantic import Field

from warehouse import Warehouse, WarehouseLockedError
from warehouse.repos import notifications as notification_repo

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())   # a CLI without logging set up prints nothing extra on stderr

ENV_WEBHOOK_URL = "ORAGAMI_ALERT_WEBHOOK_URL"
ENV_SMTP_HOST = "ORAGAMI_ALERT_SMTP_HOST"
ENV_SMTP_PORT = "ORAGAMI_ALERT_SMTP_PORT"
ENV_SMTP_SECURITY = "ORAGAMI_ALERT_SMTP_SECURITY"
ENV_SMTP_USER = "ORAGAMI_ALERT_SMTP_USER"
ENV_SMTP_PASSWORD = "ORAGAMI_ALERT_SMTP_PASSWORD"
ENV_SMTP_FROM = "ORAGAMI_ALERT_SMTP_FROM"
ENV_SMTP_TO = "ORAGAMI_ALERT_SMTP_TO"
SMTP_SECURITY: tuple[str, ...] = ("starttls", "ssl", "none")
_DEFAULT_PORT = {"starttls": 587, "ssl": 465, "none": 25}
#: Subject prefix of alert e-mails and title prefix of webhook posts.
PREFIX = "[oragami]"
#: Header naming the event in every alert e-mail (lets a mailbox rule or a test match it).
EVENT_HEADER = "X-Oragami-Event"


@dataclass(frozen=True)
class Alert:
    """One event to deliver.

    Attributes:
        key: the event's identity, unique per event (``'run_failed:<run id>'``); delivery is once per key and
            channel.
        kind: one of :data:`warehouse.schema.NOTIFICATION_KINDS`.
        title: one line (the e-mail subject after :data:`PREFIX`).
        text: the body, plain text; never a secret.
        account_id: the account concerned, or None for a platform-wide event.
        symphony_id, session_date, run_id: what it is about, when known.
    """

    key: str
    kind: str
    title: str
    text: str
    account_id: str | None = None
    symphony_id: str | None = None
    session_date: dt.date | None = None
    run_id: str | None = None

    def event(self) -> dict[str, Any]:
        """The row fields of :data:`warehouse.repos.notifications.EVENT_COLUMNS`."""
        return {"event_key": self.key, "kind": self.kind, "account_id": self.account_id,
                "symphony_id": self.symphony_id, "session_date": self.session_date, "run_id": self.run_id,
                "title": self.title, "message": self.text}


@dataclass(frozen=True)
class Delivery:
    """What happened to one alert on one channel.

    Attributes:
        status: ``'sent'``, ``'failed'``, ``'recorded'`` (no channel configured) or ``'duplicate'`` (already
            claimed earlier: nothing sent now).
        attempts: tries made by this call (0 for ``'duplicate'``/``'recorded'``).
        error: the last error, redacted; None when sent.
        recorded: False when the warehouse could not be written (locked): delivered without a record.
    """

    key: str
    channel: str
    status: str
    attempts: int = 0
    error: str | None = None
    recorded: bool = True


class ChannelError(Exception):
    """A delivery attempt failed; ``retryable`` says whether another attempt may succeed."""

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Channel(Protocol):
    """A destination: ``name`` (``'webhook'``/``'email'``), ``secrets`` (to redact) and ``send`` (one attempt)."""

    name: str
    secrets: tuple[str, ...]

    def send(self, alert: Alert) -> None:
        """Deliver once. Raises :class:`ChannelError`."""


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every non-empty secret (longest first) replaced by ``***``."""
    for s in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(s, "***")
    return text


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[:limit - 1] + "…"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: the alert body is never re-posted to another address."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102 - urllib hook
        return None


@dataclass(frozen=True)
class WebhookChannel:
    """POST ``{"text": "*<title>*\\n<text>"}`` (Slack incoming-webhook JSON) to ``url``.

    Raises:
        ValueError: at construction, ``url`` is not an ``http(s)://host/...`` URL (the URL is not echoed).
    """

    url: str = field(repr=False)
    timeout_s: float = 10.0
    name: str = "webhook"

    def __post_init__(self) -> None:
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{ENV_WEBHOOK_URL} must be an http(s) URL with a host")

    @property
    def secrets(self) -> tuple[str, ...]:
        parts = urllib.parse.urlsplit(self.url)
        return tuple(s for s in (self.url, parts.path if len(parts.path) > 1 else "", parts.query,
                                 parts.password or "") if s)

    def send(self, alert: Alert) -> None:
        body = json.dumps({"text": f"*{PREFIX} {alert.title}*\n{alert.text}"}).encode()
        req = urllib.request.Request(self.url, data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8",
                                              "User-Agent": "oragami-alerts"})
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(req, timeout=self.timeout_s) as resp:
                resp.read(4096)
        except urllib.error.HTTPError as exc:
            code = exc.code
            raise ChannelError(f"HTTP {code} {exc.reason}", retryable=code == 429 or code >= 500) from None
        except (urllib.error.URLError, OSError) as exc:   # refused, reset, DNS, timeout
            reason = getattr(exc, "reason", exc)
            raise ChannelError(f"{type(reason).__name__}: {reason}", retryable=True) from None


@dataclass(frozen=True)
class EmailChannel:
    """Send a plain-text e-mail through an SMTP server.

    Raises:
        ValueError: at construction, an unknown ``security``, no recipient, or a login user without password.
    """

    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    security: str = "starttls"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_s: float = 10.0
    name: str = "email"

    def __post_init__(self) -> None:
        if self.security not in SMTP_SECURITY:
            raise ValueError(f"{ENV_SMTP_SECURITY} must be one of {', '.join(SMTP_SECURITY)}, "
                             f"not {self.security!r}")
        if not self.recipients:
            raise ValueError(f"{ENV_SMTP_TO} names no recipient")
        if self.user and not self.password:
            raise ValueError(f"{ENV_SMTP_USER} is set but {ENV_SMTP_PASSWORD} is not")

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.password,) if self.password else ()

    def message(self, alert: Alert) -> EmailMessage:
        """The e-mail of ``alert`` (subject ``[oragami] <title>``, header :data:`EVENT_HEADER` = the key)."""
        msg = EmailMessage()
        msg["Subject"] = f"{PREFIX} {alert.title}"
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = make_msgid(domain="oragami.alerts")
        msg[EVENT_HEADER] = alert.key
        msg.set_content(alert.text)
        return msg

    def send(self, alert: Alert) -> None:
        try:
            if self.security == "ssl":
                server: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s,
                                                        context=ssl.create_default_context())
            else:
                server = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
            with server:
                if self.security == "starttls":
                    server.starttls(context=ssl.create_default_context())
                if self.user:
                    server.login(self.user, self.password or "")
                server.send_message(self.message(alert))
        except smtplib.SMTPRecipientsRefused as exc:
            raise ChannelError(f"SMTP recipients refused: {', '.join(sorted(exc.recipients))}",
                               retryable=False) from None
        except smtplib.SMTPResponseException as exc:   # a coded answer: 4xx transient, 5xx permanent
            text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            raise ChannelError(f"SMTP {exc.smtp_code} {_one_line(text)}",
                               retryable=400 <= exc.smtp_code < 500) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise ChannelError(f"SMTP: {exc}", retryable=False) from None
        except (smtplib.SMTPException, OSError, socket.timeout) as exc:   # disconnected, refused, timeout
            raise ChannelError(f"{type(exc).__name__}: {_one_line(str(exc))}", retryable=True) from None


class AlertsResource(dg.ConfigurableResource):
    """Where alerts go (see the module docstring for the environment variables).

    Every field left empty is read from its environment variable when an alert is sent. Secrets can also be given
    as ``dg.EnvVar`` (``webhook_url=dg.EnvVar("...")``), which Dagster hides in the UI.
    """

    webhook_url: str | None = Field(default=None, description=f"webhook URL (secret); empty: env {ENV_WEBHOOK_URL}")
    smtp_host: str | None = Field(default=None, description=f"SMTP server; empty: env {ENV_SMTP_HOST}")
    smtp_port: int | None = Field(default=None, description=f"SMTP port; empty: env {ENV_SMTP_PORT} or by security")
    smtp_security: str | None = Field(default=None, description="starttls | ssl | none")
    smtp_user: str | None = Field(default=None, description=f"SMTP login; empty: env {ENV_SMTP_USER}")
    smtp_password: str | None = Field(default=None, description=f"SMTP password (secret); empty: env "
                                                                f"{ENV_SMTP_PASSWORD}")
    smtp_from: str | None = Field(default=None, description=f"sender; empty: env {ENV_SMTP_FROM}")
    smtp_to: str | None = Field(default=None, description=f"recipients, comma-separated; empty: env {ENV_SMTP_TO}")
    attempts: int = Field(default=3, description="tries per alert and channel (transient errors only)")
    backoff_s: float = Field(default=1.0, description="first wait between tries, seconds (doubles each time)")
    max_backoff_s: float = Field(default=8.0, description="longest wait between tries, seconds")
    timeout_s: float = Field(default=5.0, description="timeout of one try, seconds")

    @staticmethod
    def _env(value: Any, name: str) -> str | None:
        text = value if value not in (None, "") else os.environ.get(name, "")
        return str(text).strip() or None

    def channels(self) -> tuple[list[Channel], list[tuple[str, str]]]:
        """The configured channels, read now, and ``(channel, error)`` for each one misconfigured.

        E-mail is configured when a host, a sender and a recipient are set; the webhook when its URL is set.
        """
        out: list[Channel] = []
        bad: list[tuple[str, str]] = []
        url = self._env(self.webhook_url, ENV_WEBHOOK_URL)
        if url:
            try:
                out.append(WebhookChannel(url=url, timeout_s=self.timeout_s))
            except ValueError as exc:
                bad.append(("webhook", str(exc)))
        host = self._env(self.smtp_host, ENV_SMTP_HOST)
        if host:
            try:
                security = (self._env(self.smtp_security, ENV_SMTP_SECURITY) or "starttls").lower()
                port_text = self._env(self.smtp_port, ENV_SMTP_PORT)
                if port_text is not None and not port_text.isdigit():
                    raise ValueError(f"{ENV_SMTP_PORT} must be a port number, not {port_text!r}")
                sender = self._env(self.smtp_from, ENV_SMTP_FROM)
                if not sender:
                    raise ValueError(f"{ENV_SMTP_FROM} is not set")
                to = tuple(a.strip() for a in (self._env(self.smtp_to, ENV_SMTP_TO) or "").split(",") if a.strip())
                out.append(EmailChannel(host=host, port=int(port_text) if port_text else _DEFAULT_PORT.get(security, 587),
                                        sender=sender, recipients=to, security=security,
                                        user=self._env(self.smtp_user, ENV_SMTP_USER),
                                        password=self._env(self.smtp_password, ENV_SMTP_PASSWORD),
                                        timeout_s=self.timeout_s))
            except ValueError as exc:
                bad.append(("email", str(exc)))
        return out, bad

    def _deliver(self, channel: Channel, alert: Alert, sleep: Callable[[float], None],
                 attempts: int) -> tuple[int, str | None, bool]:
        """``(attempts made, last error or None, whether that error was transient)`` of sending ``alert`` on
        ``channel`` with up to ``attempts`` tries."""
        tries = 0
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(max(1, int(attempts))),
            wait=tenacity.wait_exponential(multiplier=max(0.0, self.backoff_s), min=0.0,
                                           max=max(0.0, self.max_backoff_s)),
            retry=tenacity.retry_if_exception(lambda e: isinstance(e, ChannelError) and e.retryable),
            sleep=sleep, reraise=True)
        try:
            for attempt in retrying:
                with attempt:
                    tries += 1
                    channel.send(alert)
        except ChannelError as exc:
            return tries, redact(str(exc), channel.secrets), exc.retryable
        except Exception as exc:  # noqa: BLE001 - a channel's own bug must not stop the other channel
            return tries, redact(f"{type(exc).__name__}: {_one_line(str(exc))}", channel.secrets), False
        return tries, None, False

    def notify(self, wh: Warehouse | None, alerts: Iterable[Alert], *, log: Any = None,
               sleep: Callable[[float], None] = time.sleep) -> list[Delivery]:
        """Deliver each alert once per configured channel and record it (see the module docstring).

        Args:
            wh: the warehouse holding ``notifications``; None: deliver without recording (the CLI's lock alert).
            log: a logger (Dagster ``context.log``) for one line per delivery; default this module's logger.
            sleep: the wait between tries (tests pass a no-op).

        Returns:
            One :class:`Delivery` per alert and channel (channel ``'none'`` when nothing is configured).

        Raises:
            ValueError: an alert of unknown kind (nothing is sent for it). Secret values in an alert's title or
                text are replaced by ``***`` before anything is sent or stored.
            Errors of the warehouse other than :class:`warehouse.WarehouseLockedError` propagate (a sensor then
            fails its tick and is evaluated again; claimed pairs are not sent twice).
        """
        log = log or logger
        channels, misconfigured = self.channels()
        secrets = [*notification_repo.secret_values(), *(s for c in channels for s in c.secrets)]
        out: list[Delivery] = []
        down: set[str] = set()   # channels that stayed unreachable through their retries in this call
        for alert in alerts:
            alert = replace(alert, title=redact(alert.title, secrets), text=redact(alert.text, secrets))
            if not channels and not misconfigured:
                recorded = self._claim(wh, alert, "none", "recorded", log)
                out.append(Delivery(alert.key, "none", "recorded" if recorded is not False else "duplicate",
                                    recorded=recorded is not None))
                continue
            for name, error in misconfigured:
                claimed = self._claim(wh, alert, name, "sending", log)
                if claimed is not False:
                    recorded = claimed is True and self._finish(wh, alert, name, "failed", 0, error, log)
                    out.append(Delivery(alert.key, name, "failed", 0, error, recorded))
            for channel in channels:
                claimed = self._claim(wh, alert, channel.name, "sending", log)
                if claimed is False:
                    out.append(Delivery(alert.key, channel.name, "duplicate"))
                    continue
                tries, error, transient = self._deliver(channel, alert, sleep,
                                                        1 if channel.name in down else self.attempts)
                if error and transient:
                    down.add(channel.name)   # later alerts of this call get one try: a tick must stay short
                elif not error:
                    down.discard(channel.name)
                status = "failed" if error else "sent"
                recorded = claimed is True and self._finish(wh, alert, channel.name, status, tries, error, log)
                log.info(f"alert {alert.key} → {channel.name}: {status} after {tries} attempt(s)"
                         + (f" ({error})" if error else "") + ("" if recorded else " [not recorded]"))
                out.append(Delivery(alert.key, channel.name, status, tries, error, recorded))
        return out

    @staticmethod
    def _claim(wh: Warehouse | None, alert: Alert, channel: str, status: str, log: Any) -> bool | None:
        """True: claimed now; False: claimed before (skip); None: no warehouse to record in (deliver anyway)."""
        if wh is None:
            return None
        try:
            return notification_repo.claim(wh, alert.event(), channel, status=status)
        except WarehouseLockedError as exc:
            log.warning(f"alert {alert.key}: not recorded, the warehouse is locked ({exc})")
            return None

    @staticmethod
    def _finish(wh: Warehouse | None, alert: Alert, channel: str, status: str, tries: int, error: str | None,
                log: Any) -> bool:
        if wh is None:
            return False
        try:
            notification_repo.finish(wh, alert.key, channel, status=status, attempts=tries, last_error=error)
            return True
        except WarehouseLockedError as exc:
            log.warning(f"alert {alert.key}: {channel} outcome not recorded, the warehouse is locked ({exc})")
            return False


def alert_warehouse_locked(message: str, command: str | None = None,
                           resource: AlertsResource | None = None) -> list[Delivery]:
    """Deliver the CLI's "warehouse locked" alert (the locked warehouse cannot record it).

    Args:
        message: the :class:`warehouse.WarehouseLockedError` line.
        command: the CLI command that gave up (``'run-daily'``).

    Returns:
        The deliveries (channel ``'none'``, unrecorded, when nothing is configured). Never raises: the CLI's one
        error line and exit status stay what they are.
    """
    now = dt.datetime.now(dt.timezone.utc)
    what = f"oragami {command}" if command else "oragami"
    alert = Alert(key=f"warehouse_locked:cli:{command or 'cli'}:{now:%Y%m%dT%H%M%S.%fZ}", kind="warehouse_locked",
                  title=f"{what} gave up: the warehouse is locked",
                  text=f"{what} stopped at {now:%Y-%m-%d %H:%M:%S} UTC without writing anything.\n{message}")
    try:
        return (resource or AlertsResource()).notify(None, [alert])
    except Exception as exc:  # noqa: BLE001 - an alert must never change the CLI's answer
        logger.info("warehouse-locked alert not delivered: %s", type(exc).__name__)
        return []


__all__ = ["Alert", "AlertsResource", "Channel", "ChannelError", "Delivery", "EmailChannel", "WebhookChannel",
           "EVENT_HEADER", "PREFIX", "alert_warehouse_locked", "redact"]
