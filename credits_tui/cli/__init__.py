"""The ``credits-tui`` command line (click).

Client commands (``client_commands``, ``history_commands``) need only the base install; the
operator's (``operator_commands``) need the ``server`` extra. Every command imports what it
needs when it runs, so a quick command such as ``balance --json`` never pays for the server
stack, the TUI or rich. Exit codes: 0 ok, 1 an error from the server or the network, 2 a usage
error. Messages go to stderr as one line; no traceback reaches the user.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from credits_tui import __version__
from credits_tui.cli import client_commands, history_commands, operator_commands
from credits_tui.cli.common import Context, fail
from credits_tui.sections import SECTIONS

# httpx imports its own command line (``httpx._main``, with rich and pygments) whenever they are
# installed, as they are with this package: a third of a quick command's start-up for a program
# it never runs. No module of this package imports httpx at import time, so marking it absent
# here comes first; httpx then falls back to its stub. The tables import rich when they print.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


class OneLineErrors(click.Group):
    """Usage errors as one line on stderr (exit 2), like every other error of this CLI."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            result = super().main(*args, **kwargs)
        except click.UsageError as problem:
            hint = f" (see '{problem.ctx.command_path} --help')" if problem.ctx else ""
            fail(f"{problem.format_message()}{hint}", problem.exit_code)
        except click.ClickException as problem:
            fail(problem.format_message(), problem.exit_code)
        except click.Abort:
            fail("Aborted.", 1)
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]},
             invoke_without_command=True)
@click.version_option(__version__, prog_name="credits-tui")
@click.option("--profile", default="default", show_default=True, envvar="CREDITS_TUI_PROFILE",
              help="Which saved sign-in to use.")
@click.option("--section", type=click.Choice([section.mode for section in SECTIONS]), default=SECTIONS[0].mode,
              show_default=True, help="The section the app (or the demo in this terminal) opens at.")
@click.pass_context
def main(ctx: click.Context, profile: str, section: str) -> None:
    """Manage Lead Liaison Purchase Credits from the terminal.

    Without a command, opens the app for the saved profile (signing in if needed).
    """
    ctx.obj = Context(profile, section)
    if ctx.invoked_subcommand is None:
        open_app(ctx.obj)


def open_app(ctx: Context) -> None:
    # httpcore imports trio whenever it is installed (selenium brings it along): a tenth of the
    # app's start for an event loop the app never runs, as it runs on asyncio. Only this process
    # is told trio is absent; httpcore then uses anyio alone.
    sys.modules.setdefault("trio", None)  # type: ignore[arg-type]
    from credits_tui.api_client import errors
    from credits_tui.app import Connection, CreditsApp
    from credits_tui.auth.profiles import ConfigError, load_config
    from credits_tui.auth.session import NotSignedIn, credentials, resolve_server

    try:
        config = load_config()
        profile = config.profiles.get(ctx.profile)
        try:
            creds = credentials(ctx.store, profile_name=ctx.profile, config=config)
            connection = Connection(creds.server, creds.email, creds.token, remember_token=not creds.from_environment)
        except NotSignedIn:
            connection = Connection(resolve_server(None, profile), profile.email if profile else None)
    except (ConfigError, errors.ValidationError) as problem:
        fail(str(problem), 2)
    CreditsApp(connection, store=ctx.store, profile=ctx.profile, section=ctx.section).run()


for _module in (client_commands, history_commands, operator_commands):
    for _command in _module.COMMANDS:
        main.add_command(_command)

__all__ = ["main"]
