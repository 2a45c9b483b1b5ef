"""One browser session of ``credits-tui web``: the app, run by textual-serve as a subprocess.

Kept apart from ``credits_tui.web`` so that a session does not import the web server
(aiohttp, textual-serve) it never uses.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from credits_tui.api_client import errors
from credits_tui.app import Connection, CreditsApp
from credits_tui.auth.session import SERVER_ENV
from credits_tui.auth.tokens import TOKEN_ENV, token_from_environment


def run_session() -> None:
    """One browser session: the app, signed in with the server and token in the environment."""
    try:
        server, token = os.environ.get(SERVER_ENV), token_from_environment()
    except errors.ValidationError as problem:
        print(f"credits-tui web: {problem.message}", file=sys.stderr)
        sys.exit(2)
    if not server or not token:
        print(f"credits-tui web: {SERVER_ENV} and {TOKEN_ENV} must be set for a browser session.",
              file=sys.stderr)
        sys.exit(2)
    # The token is the serving process's: nothing to store, and the keyring is not touched.
    threading.Thread(target=_exit_when_orphaned, name="credits-web-parent", daemon=True).start()
    CreditsApp(Connection(server, None, token, remember_token=False)).run()


def _exit_when_orphaned() -> None:
    """Quit once the serving process is gone (even killed): no browser can reach this app any more."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)  # Textual's web driver quits the app on SIGTERM


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # the server went away: end quietly
    run_session()
