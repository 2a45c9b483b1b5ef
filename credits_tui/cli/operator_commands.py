"""The operator's commands: the backend (``serve``), month-end (``close-month``, ``reconcile``),
the demo, and the app served to a browser (``web``).

Everything but ``web`` needs the ``server`` extra (FastAPI, SQLAlchemy, uvicorn...); without it
they say so in one line and exit 2.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from credits_tui.cli.common import Context, fail, run_one_shot

if TYPE_CHECKING:
    from credits_tui.api_client.models import Me
    from credits_tui.backend.config import Settings
    from credits_tui.backend.db.engine import Database
    from credits_tui.cli.oneshot import OneShotClient


# The ``server`` extra's packages that every operator command imports (psycopg only for PostgreSQL).
SERVER_PACKAGES = ("fastapi", "uvicorn", "sqlalchemy", "alembic", "argon2", "pydantic_settings")
WEB_OPTIONS = ("host", "port", "public")


def needs_server(command: str) -> None:
    """One line and exit 2 when the ``server`` extra is not installed, rather than a traceback."""
    for name in SERVER_PACKAGES:
        try:
            found = importlib.util.find_spec(name) is not None
        except ImportError:
            found = False
        if not found:
            fail(f"'credits-tui {command}' needs the server parts: pip install 'credits-tui[server]'", 2)


@contextmanager
def seeding_progress(count: int) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr while ``count`` demo transactions are written, on a terminal only."""
    if not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=count, label="Seeding transactions", file=sys.stderr,
                           show_pos=True, show_eta=True) as bar:
        yield bar.update


def web_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """--host, --port and --public: where the app is served to a browser."""
    function = click.option("--public", is_flag=True,
                            help="Allow a --host that is not loopback: anyone who reaches the port gets the "
                                 "app signed in.")(function)
    function = click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True,
                            help="Port to serve the browser page on.")(function)
    return click.option("--host", default="127.0.0.1", show_default=True, metavar="ADDRESS",
                        help="Address to listen on.")(function)


def check_web_host(host: str, public: bool) -> None:
    """Loopback unless --public says otherwise: a usage error (exit 2), or a warning."""
    from credits_tui.web import is_loopback

    if is_loopback(host):
        return
    if not public:
        raise click.UsageError(f"--host {host} is not a loopback address: anyone who reaches it gets the "
                               "app signed in. Add --public to serve it anyway.")
    click.echo(f"Warning: serving on {host}: anyone who can reach this port gets the app signed in. "
               "Use it only on a network you trust.", err=True)


def serve_in_browser(server_url: str, token: str, title: str, host: str, port: int, public: bool) -> None:
    from credits_tui.web import serve

    try:
        serve(server_url, token, host=host, port=port, title=title, public=public)
    except OSError as problem:
        fail(f"cannot serve on {host}:{port}: {problem.strerror or problem}")


@click.command()
@web_options
@click.pass_obj
def web(ctx: Context, host: str, port: int, public: bool) -> None:
    """Serve the app for the saved profile to a browser (loopback only unless --public)."""
    from credits_tui.api_client.models import Me
    from credits_tui.web import page_title

    check_web_host(host, public)

    def who(client: OneShotClient) -> tuple[str, str, str]:
        me = client.get("/me", Me)  # a sign-in that no longer works fails here, not in the browser
        return client.server, client.token, page_title(me.account.name, me.email)

    server_url, token, title = run_one_shot(ctx, None, who)
    serve_in_browser(server_url, token, title, host, port, public)


@click.command()
@click.option("--transactions", "count", type=click.IntRange(1, 1_000_000), default=2000, show_default=True,
              help="How many transactions the demo account gets.")
@click.option("--web", "in_browser", is_flag=True, help="Serve the demo to a browser instead of this terminal.")
@web_options
@click.pass_context
def demo(click_ctx: click.Context, count: int, in_browser: bool, host: str, port: int, public: bool) -> None:
    """The whole tour: a seeded backend on a free loopback port, signed in as the demo admin."""
    needs_server("demo")
    import asyncio
    import tempfile
    from pathlib import Path

    from credits_tui.api_client import errors
    from credits_tui.api_client.client import CreditsClient
    from credits_tui.app import Connection, CreditsApp
    from credits_tui.auth.tokens import TokenStore
    from credits_tui.backend.config import Settings
    from credits_tui.backend.db.engine import Database
    from credits_tui.backend.db.migrate import upgrade
    from credits_tui.backend.demo import DEMO_ADMIN, DEMO_PASSWORD, seed_demo
    from credits_tui.embedded import EmbeddedServer

    if not in_browser and any(click_ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT
                              for name in WEB_OPTIONS):
        raise click.UsageError("--host, --port and --public go with --web.")
    if in_browser:
        check_web_host(host, public)
    with tempfile.TemporaryDirectory(prefix="credits-tui-demo-") as folder:
        settings = Settings(database_url=f"sqlite:///{Path(folder) / 'demo.db'}")
        database = Database(settings.database_url)
        click.echo("Preparing the demo account...", err=True)
        upgrade(database)
        with seeding_progress(count) as progress:
            seed_demo(database, settings, transactions=count, progress=progress)
        server = EmbeddedServer(database, settings)
        server.start()
        try:
            async def sign_in() -> tuple[str, Me]:
                async with CreditsClient(server.url) as client:
                    token = (await client.sign_in(DEMO_ADMIN, DEMO_PASSWORD)).token
                    return token, await client.me()

            try:
                token, me = asyncio.run(sign_in())
            except errors.ApiError as problem:
                fail(f"The demo server did not let the demo admin in: {problem.message}")
            if in_browser:
                from credits_tui.web import page_title

                serve_in_browser(server.url, token, page_title(me.account.name, me.email), host, port, public)
                return
            # The demo's token lives in memory only: nothing to keep once the demo ends.
            app = CreditsApp(Connection(server.url, DEMO_ADMIN, token, remember_token=False), store=TokenStore(),
                             section=click_ctx.obj.section)
            app.run()
        finally:
            server.stop()
            database.dispose()


def _open_database(database_url: str | None) -> tuple[Settings, Database]:
    """Settings and a migrated database, or a one-line error (exit 1) if it cannot be reached."""
    from sqlalchemy.exc import ArgumentError, OperationalError

    from credits_tui.backend.config import Settings
    from credits_tui.backend.db.engine import Database
    from credits_tui.backend.db.migrate import upgrade

    settings = Settings.from_env(database_url=database_url)
    try:
        database = Database(settings.database_url)
        upgrade(database)
    except ArgumentError:
        raise click.BadParameter(f"not a database URL: {settings.database_url.split('@')[-1]!r}",
                                 param_hint="--database-url") from None
    except (OperationalError, ModuleNotFoundError) as error:
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
        click.echo(f"credits-tui: cannot open the database: {reason}", err=True)
        sys.exit(1)
    return settings, database


database_url_option = click.option(
    "--database-url", envvar="CREDITS_DATABASE_URL", show_envvar=True,
    help="sqlite:///path/to/file.db or postgresql+psycopg://user@host/db "
         "(default: a SQLite file in the user data directory).")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@database_url_option
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes sharing the database (use PostgreSQL for more than one).")
@click.option("--demo", is_flag=True, help="Seed the demo accounts into an empty database first.")
@click.option("--demo-transactions", type=click.IntRange(1, 50_000_000), default=None,
              help="With --demo: how many transactions Demo Co. gets (default 2000).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@click.option("--forwarded-allow-ips", metavar="ADDRESSES", envvar="FORWARDED_ALLOW_IPS", show_envvar=True,
              help="Comma-separated addresses or networks (or '*') of the reverse proxies whose "
                   "X-Forwarded-For and X-Forwarded-Proto are trusted (uvicorn's option). "
                   "[default: 127.0.0.1,::1]")
@click.option("--smtp-url", envvar="CREDITS_SMTP_URL", show_envvar=True, metavar="URL",
              help="Send notifications by email through this server: smtp://host:port or "
                   "smtps://user:password@host:port (default: keep them in the outbox only).")
def serve(host: str, port: int, database_url: str | None, workers: int, demo: bool,
          demo_transactions: int | None, log_level: str, forwarded_allow_ips: str | None,
          smtp_url: str | None) -> None:
    """Run the reference Purchase Credits backend.

    \b
    Behind a reverse proxy, list the proxy in --forwarded-allow-ips: the client address
    is then the one the proxy forwards, and the sign-in limits (per email and address,
    and per address) count each caller apart. Otherwise every caller shares the proxy's
    address. Never '*' when clients can reach the server directly:
    they could then name any address.
    """
    needs_server("serve")
    import uvicorn

    from credits_tui.backend.demo import DEMO_TRANSACTIONS, is_empty, seed_demo

    if demo_transactions is not None and not demo:
        raise click.UsageError("--demo-transactions goes with --demo")
    if smtp_url:
        from credits_tui.backend.services.mail_sender import SmtpServer

        try:
            SmtpServer.from_url(smtp_url)
        except ValueError as problem:
            raise click.BadParameter(str(problem), param_hint="--smtp-url") from None
        os.environ["CREDITS_SMTP_URL"] = smtp_url  # the workers read their settings from the environment
    settings, database = _open_database(database_url)
    if demo:
        if is_empty(database):
            count = demo_transactions or DEMO_TRANSACTIONS
            click.echo(f"Seeding demo data ({count:,} transactions)...", err=True)
            with seeding_progress(count) as progress:
                seed_demo(database, settings, transactions=count, progress=progress)
            click.echo("Demo users: admin@demo.example, support@demo.example, member@demo.example, "
                       "other-admin@demo.example; password: demo-password", err=True)
        else:
            click.echo("The database already has data: demo data is not seeded again.", err=True)
    database.dispose()
    # Workers are separate processes: they read the database URL from the environment.
    os.environ["CREDITS_DATABASE_URL"] = settings.database_url
    uvicorn.run("credits_tui.backend.api.app:app_from_env", factory=True, host=host, port=port,
                workers=workers, log_level=log_level, proxy_headers=True,
                forwarded_allow_ips=forwarded_allow_ips)


@click.command("close-month")
@click.option("--period", metavar="YYYY-MM", help="The month to close (default: last month, UTC).")
@database_url_option
def close_month(period: str | None, database_url: str | None) -> None:
    """Invoice post-paid (transcription) shortfalls for a month and charge the cards on file."""
    needs_server("close-month")
    from credits_tui.backend.services.invoicing import InvoicingService, previous_period
    from credits_tui.backend.services.ledger import utc_now
    from credits_tui.backend.services.payments import TestGateway

    settings, database = _open_database(database_url)
    period = period or previous_period(utc_now())
    try:
        results = InvoicingService(database, settings, TestGateway(database)).close_month(period)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--period") from None
    if not results:
        click.echo(f"{period}: no account owes anything.")
    failed = 0
    for result in results:
        click.echo(f"{result.period}: {result.account_name}: {result.status.value}: {result.message}")
        failed += result.status.value != "paid"
    sys.exit(1 if failed else 0)


@click.command()
@click.option("--since", metavar="WHEN", help="Only charges and transactions from: 30d, 12h, 2w ago, or a "
                                              "date/time (ISO 8601, UTC if no zone). Default: all.")
@database_url_option
def reconcile(since: str | None, database_url: str | None) -> None:
    """Check that every gateway charge has exactly one purchase, auto-recharge or invoice-payment
    transaction and each of those one charge; print each mismatch (exit 1), or exit 0."""
    needs_server("reconcile")
    from credits_tui.backend.services.payments import reconcile as find_mismatches
    from credits_tui.formatting import parse_when

    try:
        start = parse_when(since) if since else None
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--since") from None
    _, database = _open_database(database_url)
    with database.read() as session:
        mismatches = find_mismatches(session, start)
    database.dispose()
    for mismatch in mismatches:
        click.echo(f"{mismatch.kind}: {mismatch.message}")
    if mismatches:
        click.echo(f"{len(mismatches)} mismatch{'es' if len(mismatches) != 1 else ''} between gateway charges "
                   "and transactions.", err=True)
        sys.exit(1)
    click.echo("Every charge has exactly one transaction and every charged transaction one charge.")


COMMANDS = (serve, close_month, reconcile, demo, web)
