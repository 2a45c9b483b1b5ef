"""The reference backend on a loopback port of its own, in a background thread (``credits-tui demo``)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn

from credits_tui.backend.api.app import create_app
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database


def loopback_socket() -> socket.socket:
    """A socket listening on a free loopback port, for uvicorn to serve on.

    Bound here and handed over open, so no other process can take the port between our
    choosing it and the server using it.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)  # connections that come before the server is up wait in the backlog
    except OSError:
        sock.close()
        raise
    return sock


def free_port() -> int:
    """A loopback port that is free now, for a server in another process to bind (by then it may
    be taken: in this process, serve on ``loopback_socket`` instead); or for a test that needs a
    port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LoopbackServer:
    """An ASGI app served by uvicorn on ``loopback_socket`` in a daemon thread, until ``stop``.

    ``options`` are uvicorn's (``log_level``, ``lifespan``, ...). Also a context manager.
    """

    def __init__(self, app: Callable[..., Any], **options: Any) -> None:
        self._socket = loopback_socket()
        self.port: int = self._socket.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, **options))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name="credits-backend", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._socket.close()
                raise RuntimeError("the embedded server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> LoopbackServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class EmbeddedServer(LoopbackServer):
    """Serves ``database`` until ``stop``; logs nothing to the terminal the TUI draws on."""

    def __init__(self, database: Database, settings: Settings) -> None:
        super().__init__(create_app(settings, database=database, migrate=False),
                         log_config=None, log_level="critical", access_log=False)
