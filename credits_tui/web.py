"""The app in a browser (``credits-tui web``, ``credits-tui demo --web``) through textual-serve.

The serving process holds the server URL and the token; every browser session starts the
app as a subprocess (``python -m credits_tui.web_session``) that gets both through its environment
(``CREDITS_TUI_SERVER``, ``CREDITS_TUI_TOKEN``): never through a URL or a command line that
``ps`` would show. textual-serve copies the serving process's environment into each session.
"""

from __future__ import annotations

import asyncio
import html
import ipaddress
import logging
import os
import re
import shlex
import socket
import sys
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from textual_serve.server import Server, to_int

from credits_tui.auth.session import SERVER_ENV
from credits_tui.auth.tokens import TOKEN_ENV

PRODUCT = "Purchase Credits"
# How long stopping waits for the apps to quit; one that hangs quits once the server is gone.
STOP_GRACE_SECONDS = 10.0

GOOGLE_FONT = re.compile(r'<link\s+rel="stylesheet"\s+href="https://fonts\.googleapis\.com/[^"]*"\s*/>')


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address; any other name could resolve to anything."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def page_title(account: str, email: str) -> str:
    return f"{PRODUCT} · {account} · {email}"


def session_command() -> str:
    """What textual-serve runs (through the shell) for each browser session.

    SIGINT is ignored until the app installs its own handler: Ctrl+C in the server's terminal
    reaches the whole process group, and the server stops its apps itself (an app still
    starting would otherwise die with a KeyboardInterrupt traceback on the server's output).
    """
    return f"trap '' INT; exec {shlex.quote(sys.executable)} -m credits_tui.web_session"


def browser_address(host: str, port: int) -> str:
    """The address to print: a wildcard bind is reached by this machine's name."""
    if host in ("0.0.0.0", "::", ""):
        host = socket.gethostname()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


class AppServer(Server):
    """textual-serve's server with the checks a signed-in app needs.

    * The page and its websocket address come from the request's own ``Host``, so the app
      works through an SSH tunnel or by any name the machine answers to.
    * The websocket only accepts pages served from the same origin: browsers let any web
      page open a websocket to ``127.0.0.1``, and this one drives a signed-in app. Bound to
      loopback, the ``Host`` must be a loopback name too (no DNS rebinding).
    * Stopping the server stops every app process it started.
    """

    def __init__(self, *, host: str, port: int, title: str, public: bool) -> None:
        super().__init__(session_command(), host=host, port=port, title=title)
        self.public = public
        self._sessions: set[asyncio.Task[Any]] = set()

    def initialize_logging(self) -> None:
        # textual-serve logs every request at INFO; only problems are worth a line here.
        logging.basicConfig(level=logging.WARNING, format="credits-tui web: %(message)s")

    async def on_startup(self, app: web.Application) -> None:
        address = browser_address(self.host, self.port)
        lines = [f"{self.title}: open {address} in a browser."]
        if is_loopback(self.host):
            target = f"[{self.host}]" if ":" in self.host else self.host
            lines.append(f"From another machine: ssh -L {self.port}:{target}:{self.port} THIS-HOST, then open "
                         f"http://localhost:{self.port} there.")
        lines.append("Press Ctrl+C to stop.")
        print("\n".join(lines), file=sys.stderr, flush=True)

    async def handle_index(self, request: web.Request) -> web.Response:
        static = f"{_origin(request)}/static/"
        context = {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": f"{'wss' if request.secure else 'ws'}://{request.host}/ws",
            "config": {"static": {"url": static}},
            "application": {"name": self.title},
        }
        response = aiohttp_jinja2.render_template("app_index.html", request, context)
        assert response.text is not None
        # textual-serve's page has no <title>: the tab should name the product and the account.
        page = response.text.replace("<head>", f"<head>\n<title>{html.escape(self.title)}</title>", 1)
        # Its font comes from a third-party host (unreachable offline, and told who opens the
        # app); textual-serve ships the same font, so the page takes it from here.
        response.text = GOOGLE_FONT.sub(f"<style>@font-face {{ font-family: 'Roboto Mono'; src: url("
                                        f"'{static}fonts/RobotoMono-VariableFont_wght.ttf'); }}</style>", page)
        response.headers["Cache-Control"] = "no-store"
        return response

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        if not self._trusted(request):
            raise web.HTTPForbidden(text="This app only answers its own page.")
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        try:
            return await super().handle_websocket(request)
        finally:
            self._sessions.discard(task)

    def _trusted(self, request: web.Request) -> bool:
        if request.headers.get("Origin") != _origin(request):
            return False
        return self.public or is_loopback(request.url.host or "")

    async def on_shutdown(self, app: web.Application) -> None:
        """Cancel every session: textual-serve then tells its app to quit and waits for it."""
        for task in list(self._sessions):
            task.cancel()
        if self._sessions:
            await asyncio.wait(list(self._sessions), timeout=STOP_GRACE_SECONDS)


def _origin(request: web.Request) -> str:
    """The origin the browser addressed, as its ``Origin`` header spells a same-origin page."""
    return f"{'https' if request.secure else 'http'}://{request.host}"


def serve(server_url: str, token: str, *, host: str, port: int, title: str, public: bool) -> None:
    """Serve the app signed in to ``server_url`` until Ctrl+C or SIGTERM."""
    # Every session's app inherits these (textual-serve copies os.environ into each child).
    os.environ[SERVER_ENV] = server_url
    os.environ[TOKEN_ENV] = token
    AppServer(host=host, port=port, title=title, public=public).serve()
