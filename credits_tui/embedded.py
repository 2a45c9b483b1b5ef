"""The reference backend on a free loopback port in a background thread (``credits-tui demo``)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from credits_tui.backend.api.app import create_app
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedServer:
    """Serves ``database`` until ``stop``; logs nothing to the terminal the TUI draws on."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.port = free_port()
        config = uvicorn.Config(create_app(settings, database=database, migrate=False), host="127.0.0.1",
                                port=self.port, log_config=None, log_level="critical", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="credits-backend", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the embedded server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
