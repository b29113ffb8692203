"""Local alert receivers on 127.0.0.1 for the alert tests: a Slack-style webhook (``http.server`` in a thread) and an
SMTP server (``aiosmtpd``'s ``Controller``), each recording what it received and able to fail on purpose.
"""
from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class WebhookReceiver:
    """An incoming-webhook endpoint at :attr:`url` (``http://127.0.0.1:<port>/services/T000/B000/<token>``).

    Attributes:
        posts: the JSON bodies of the POSTs it answered 200 (in order).
        attempts: every POST received, answered or failed.
        fail_next: answer the next N POSTs with :attr:`fail_status` (then 200 again); ``-1``: always fail.
    """

    TOKEN = "XXXXwebhooktokenXXXX"

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.attempts = 0
        self.fail_next = 0
        self.fail_status = 500
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server hook
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.attempts += 1
                    fail = receiver.fail_next != 0
                    if receiver.fail_next > 0:
                        receiver.fail_next -= 1
                    if not fail:
                        receiver.posts.append({"path": self.path, "content_type": self.headers.get("Content-Type"),
                                               **json.loads(body)})
                self.send_response(receiver.fail_status if fail else 200)
                self.end_headers()
                self.wfile.write(b"error" if fail else b"ok")

            def log_message(self, *args: Any) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/services/T000/B000/{self.TOKEN}"

    def texts(self) -> list[str]:
        """The ``text`` of every delivered post."""
        return [p["text"] for p in self.posts]

    def __enter__(self) -> "WebhookReceiver":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler:
    def __init__(self, owner: "SmtpReceiver") -> None:
        self.owner = owner

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd hook
        with self.owner._lock:
            self.owner.attempts += 1
            if self.owner.fail_next != 0:
                if self.owner.fail_next > 0:
                    self.owner.fail_next -= 1
                return self.owner.fail_reply
            msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.owner.messages.append(msg)  # type: ignore[arg-type]
            self.owner.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


class SmtpReceiver:
    """An SMTP server on 127.0.0.1 (no TLS) recording each message it accepted.

    Args:
        login: ``(user, password)`` it requires (AUTH LOGIN/PLAIN over plain text, a test only), or None.

    Attributes:
        messages: accepted messages (``email.message.EmailMessage``), in order.
        attempts: DATA commands received (accepted or refused).
        fail_next: refuse the next N messages with :attr:`fail_reply` (``451`` transient); ``-1``: always.
    """

    def __init__(self, login: tuple[str, str] | None = None) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.attempts = 0
        self.fail_next = 0
        self.fail_reply = "451 4.3.0 try again later"
        self._lock = threading.Lock()
        kwargs: dict[str, Any] = {}
        if login is not None:
            def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
                ok = isinstance(auth_data, LoginPassword) and \
                    (auth_data.login.decode(), auth_data.password.decode()) == login
                return AuthResult(success=ok)
            kwargs = {"authenticator": authenticate, "auth_required": True, "auth_require_tls": False}
        self.port = _free_port()
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **kwargs)

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]

    def __enter__(self) -> "SmtpReceiver":
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()
