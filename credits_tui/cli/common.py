"""What every command shares: the context, one-line failures, signed-in runs and common options."""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    from decimal import Decimal

    from credits_tui.api_client.client import CreditsClient
    from credits_tui.auth.session import Credentials
    from credits_tui.auth.tokens import TokenStore
    from credits_tui.cli.oneshot import OneShotClient

T = TypeVar("T")


class Context:
    """What every client command shares: the profile name, the token store, and the section the
    app opens at (``credits-tui`` itself and ``demo``)."""

    def __init__(self, profile: str, section: str) -> None:
        self.profile = profile
        self.section = section
        self._store: TokenStore | None = None

    @property
    def store(self) -> TokenStore:
        if self._store is None:
            from credits_tui.auth.tokens import TokenStore

            self._store = TokenStore()
        return self._store


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr and the exit code: how every error of this CLI ends."""
    click.echo(f"credits-tui: {message}", err=True)
    sys.exit(code)


def printable(text: str) -> str:
    """Server text bound for a terminal: no control character (an escape sequence) passes."""
    return "".join(c if c.isprintable() else "?" for c in text)


server_option = click.option("--server", envvar="CREDITS_TUI_SERVER", show_envvar=True, metavar="URL",
                             help="The server (default: the profile's).")


def signed_in(ctx: Context, server: str | None) -> Credentials:
    """The server and token to use, or a one-line usage error (exit 2)."""
    from credits_tui.api_client import errors
    from credits_tui.auth.profiles import ConfigError
    from credits_tui.auth.session import NotSignedIn, credentials

    try:
        return credentials(ctx.store, server=server, profile_name=ctx.profile)
    except (NotSignedIn, ConfigError) as problem:
        fail(str(problem), 2)
    except errors.ValidationError as problem:
        fail(problem.message, 2)


def report(ctx: Context, creds: Credentials, problem: BaseException) -> NoReturn:
    """A failed signed-in call as one line: a refused token is forgotten and the way back named."""
    from credits_tui.api_client import errors

    if isinstance(problem, errors.AuthenticationError):
        if not creds.from_environment and creds.email:
            ctx.store.delete(creds.server, creds.email)  # a 401 on a stored token: sign in again next time
        if creds.from_environment:
            fail("The server refused the token in CREDITS_TUI_TOKEN (expired, revoked or mistyped).")
        state = "has expired" if problem.code == "token_expired" else "is no longer valid"
        fail(f"Your sign-in {state}: run 'credits-tui login' to sign in again.")
    if isinstance(problem, errors.ApiError):
        fail(problem.message)
    if isinstance(problem, KeyboardInterrupt):
        fail("Interrupted.", 130)
    raise problem


def run_client_command(ctx: Context, server: str | None,
                       action: Callable[[CreditsClient], Coroutine[Any, Any, T]]) -> T:
    """Run ``action`` with a signed-in async client (pages, streams, purchases)."""
    import asyncio

    from credits_tui.api_client import errors
    from credits_tui.api_client.client import CreditsClient

    creds = signed_in(ctx, server)

    async def call() -> T:
        async with CreditsClient(creds.server, creds.token) as client:
            return await action(client)

    try:
        return asyncio.run(call())
    except (errors.ApiError, KeyboardInterrupt) as problem:
        report(ctx, creds, problem)


def run_one_shot(ctx: Context, server: str | None, action: Callable[[OneShotClient], T]) -> T:
    """Run ``action`` with a signed-in synchronous client: a quick command needs no event loop."""
    from credits_tui.api_client import errors
    from credits_tui.cli.oneshot import OneShotClient

    creds = signed_in(ctx, server)
    try:
        with OneShotClient(creds.server, creds.token) as client:
            return action(client)
    except (errors.ApiError, KeyboardInterrupt) as problem:
        report(ctx, creds, problem)


def money_option(value: str | None, hint: str) -> Decimal | None:
    """A credits amount typed on the command line ("1,000.50" too), exactly, or a usage error naming the option."""
    from pydantic import TypeAdapter, ValidationError

    from credits_tui.api_client.models import Money
    from credits_tui.formatting import plain_amount

    if value is None:
        return None
    try:
        return TypeAdapter(Money).validate_python(plain_amount(value))
    except ValidationError as problem:
        raise click.BadParameter(problem.errors()[0]["msg"], param_hint=hint) from None
    except ValueError as problem:
        raise click.BadParameter(str(problem), param_hint=hint) from None
