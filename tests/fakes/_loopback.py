"""The lifecycle shared by the local fakes: serve a request handler on 127.0.0.1 in a daemon thread."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackServer:
    """Mixin: ``start()``/``stop()``, use as a context manager, ``origin`` = ``http://127.0.0.1:PORT``.

    Subclasses set :attr:`handler` (its requests reach the fake as ``self.server.fake``), optionally
    :attr:`thread_name`, and ``self._port`` (0 = an ephemeral port).
    """

    handler: type[BaseHTTPRequestHandler]
    thread_name = "fake-server"
    _port = 0
    _httpd: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def start(self):
        httpd = ThreadingHTTPServer(("127.0.0.1", self._port), self.handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False
        httpd.fake = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT`` of the running server."""
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"
