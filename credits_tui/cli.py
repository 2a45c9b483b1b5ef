"""The ``credits-tui`` command line (click).

Every command imports what it needs when it runs, so a quick command such as
``balance --json`` never pays for the server stack (FastAPI, SQLAlchemy) or the TUI.
Exit codes: 0 ok, 1 an error from the server or the network, 2 a usage error. Messages go
to stderr as one line; no traceback reaches the user.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import click

from credits_tui import __version__

if TYPE_CHECKING:
    from decimal import Decimal

    from credits_tui.api_client.client import CreditsClient
    from credits_tui.api_client.models import AuditEvent, Me, Receipt
    from credits_tui.auth.session import Credentials
    from credits_tui.auth.tokens import TokenStore

T = TypeVar("T")


class Context:
    """What every client command shares: the profile name and the token store."""

    def __init__(self, profile: str) -> None:
        self.profile = profile
        self._store: TokenStore | None = None

    @property
    def store(self) -> TokenStore:
        if self._store is None:
            from credits_tui.auth.tokens import TokenStore

            self._store = TokenStore()
        return self._store


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
@click.pass_context
def main(ctx: click.Context, profile: str) -> None:
    """Manage Lead Liaison Purchase Credits from the terminal.

    Without a command, opens the app for the saved profile (signing in if needed).
    """
    ctx.obj = Context(profile)
    if ctx.invoked_subcommand is None:
        open_app(ctx.obj)


def open_app(ctx: Context) -> None:
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
    CreditsApp(connection, store=ctx.store, profile=ctx.profile).run()


WEB_OPTIONS = ("host", "port", "public")


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


@main.command()
@web_options
@click.pass_obj
def web(ctx: Context, host: str, port: int, public: bool) -> None:
    """Serve the app for the saved profile to a browser (loopback only unless --public)."""
    from credits_tui.web import page_title

    check_web_host(host, public)

    async def who(client: CreditsClient) -> tuple[str, str, str]:
        me = await client.me()  # a sign-in that no longer works fails here, not in the browser
        assert client.token is not None
        return client.server, client.token, page_title(me.account.name, me.email)

    server_url, token, title = run_client_command(ctx, None, who)
    serve_in_browser(server_url, token, title, host, port, public)


@main.command()
@click.option("--transactions", "count", type=click.IntRange(1, 1_000_000), default=2000, show_default=True,
              help="How many transactions the demo account gets.")
@click.option("--web", "in_browser", is_flag=True, help="Serve the demo to a browser instead of this terminal.")
@web_options
@click.pass_context
def demo(click_ctx: click.Context, count: int, in_browser: bool, host: str, port: int, public: bool) -> None:
    """The whole tour: a seeded backend on a free loopback port, signed in as the demo admin."""
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
        seed_demo(database, settings, transactions=count)
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
            app = CreditsApp(Connection(server.url, DEMO_ADMIN, token, remember_token=False), store=TokenStore())
            app.run()
        finally:
            server.stop()
            database.dispose()


def fail(message: str, code: int = 1) -> None:
    click.echo(f"credits-tui: {message}", err=True)
    sys.exit(code)


def run_client_command(ctx: Context, server: str | None,
                       action: Callable[[CreditsClient], Coroutine[Any, Any, T]]) -> T:
    """Run ``action`` with a signed-in client; map every failure to one line and an exit code."""
    from credits_tui.api_client import errors
    from credits_tui.api_client.client import CreditsClient
    from credits_tui.auth.profiles import ConfigError
    from credits_tui.auth.session import NotSignedIn, credentials

    try:
        creds = credentials(ctx.store, server=server, profile_name=ctx.profile)
    except (NotSignedIn, ConfigError) as problem:
        fail(str(problem), 2)
    except errors.ValidationError as problem:
        fail(problem.message, 2)

    async def call() -> T:
        async with CreditsClient(creds.server, creds.token) as client:
            return await action(client)

    try:
        return asyncio.run(call())
    except errors.AuthenticationError as problem:
        forget_rejected_token(ctx, creds)
        if creds.from_environment:
            fail("The server refused the token in CREDITS_TUI_TOKEN (expired, revoked or mistyped).")
        state = "has expired" if problem.code == "token_expired" else "is no longer valid"
        fail(f"Your sign-in {state}: run 'credits-tui login' to sign in again.")
    except errors.ApiError as problem:
        fail(problem.message)
    except KeyboardInterrupt:
        fail("Interrupted.", 130)
    raise AssertionError("unreachable")  # pragma: no cover


def forget_rejected_token(ctx: Context, creds: Credentials) -> None:
    """A 401 on a stored token: delete it, so the next run asks to sign in."""
    if not creds.from_environment and creds.email:
        ctx.store.delete(creds.server, creds.email)


server_option = click.option("--server", envvar="CREDITS_TUI_SERVER", show_envvar=True, metavar="URL",
                             help="The server (default: the profile's).")


def _open_database(database_url: str | None) -> tuple[Any, Any]:
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


class TokenNotKept(Exception):
    """Signed in, but no keyring could keep the token: it was revoked (or the server said no)."""


@main.command()
@server_option
@click.option("--email", help="Your email (asked for if missing).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--print-token", is_flag=True,
              help="Print the token on standard output instead of keeping it in the keyring: for "
                   "machines without one (e.g. over SSH), "
                   "'export CREDITS_TUI_TOKEN=$(credits-tui login --print-token ...)'.")
@click.pass_obj
def login(ctx: Context, server: str | None, email: str | None, password_stdin: bool, print_token: bool) -> None:
    """Sign in and keep the token in the OS keyring (or print it with --print-token)."""
    import shlex

    from credits_tui.api_client import errors
    from credits_tui.api_client.client import CreditsClient, normalise_server
    from credits_tui.api_client.models import TokenResponse
    from credits_tui.auth.profiles import ConfigError, load_config
    from credits_tui.auth.session import remember, resolve_server

    try:
        config = load_config()
    except ConfigError as problem:
        fail(str(problem), 2)
    profile = config.profiles.get(ctx.profile)
    server = resolve_server(server, profile)
    if not server:
        raise click.UsageError("Give the server to sign in to with --server URL.")
    try:
        server = normalise_server(server)
    except errors.ValidationError as problem:
        raise click.BadParameter(problem.message, param_hint="--server") from None
    email = email or (profile.email if profile and profile.server == server else None)
    if not email:
        if not sys.stdin.isatty():  # a prompt would read the piped password (or EOF) as the email
            raise click.UsageError("Give the email to sign in as with --email EMAIL.")
        email = click.prompt("Email", err=True)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.UsageError("--password-stdin was given but standard input held no password.")
    elif sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, err=True)
    else:
        raise click.UsageError("No terminal to ask for the password: pipe it in with --password-stdin.")

    async def sign_in() -> TokenResponse:
        async with CreditsClient(server) as client:
            answer = await client.sign_in(email, password)
            if print_token:
                return answer
            replaced = ctx.store.get(server, answer.user.email)
            if not ctx.store.set(server, answer.user.email, answer.token):
                try:
                    await client.sign_out()  # a token nobody can keep is revoked at once
                except errors.ApiError:
                    raise TokenNotKept(f"the new token was not kept, and the server could not revoke it now "
                                       f"(it expires {answer.expires_at:%Y-%m-%d %H:%M} UTC)") from None
                raise TokenNotKept("the new token was revoked, not kept")
            if replaced and replaced != answer.token:  # the old sign-in is of no use any more
                async with CreditsClient(server, replaced) as old:
                    try:
                        await old.sign_out()
                    except errors.ApiError:
                        pass  # it may have expired already; the new sign-in stands
            return answer

    try:
        answer = asyncio.run(sign_in())
    except errors.ApiError as problem:
        fail(problem.message)
    except TokenNotKept as fate:
        command = shlex.join(["credits-tui", "login", "--print-token", "--server", server, "--email", email])
        fail(f"Not signed in: no usable OS keyring can keep the token here, so {fate}. Without a keyring "
             f"(e.g. over SSH), sign in for this shell with: export CREDITS_TUI_TOKEN=$({command})")
    user = answer.user
    remember(config, ctx.profile, server, user.email)
    if print_token:
        click.echo(answer.token)
        click.echo(f"Signed in to {server} as {user.name} <{user.email}>. The token is on standard output "
                   f"and kept nowhere; it is valid until {answer.expires_at:%Y-%m-%d %H:%M} UTC unless "
                   "revoked.", err=True)
        return
    click.echo(f"Signed in to {server} as {user.name} <{user.email}>.", err=True)


@main.command()
@click.pass_obj
def logout(ctx: Context) -> None:
    """Revoke the token on the server and delete it from the keyring."""
    from credits_tui.api_client import errors
    from credits_tui.api_client.client import CreditsClient
    from credits_tui.auth.profiles import ConfigError, load_config

    try:
        profile = load_config().profiles.get(ctx.profile)
    except ConfigError as problem:
        fail(str(problem), 2)
    if profile is None:
        fail("Not signed in.", 2)
    token = ctx.store.get(profile.server, profile.email)
    if token is None:
        click.echo(f"Not signed in to {profile.server}.", err=True)
        return

    async def revoke() -> None:
        async with CreditsClient(profile.server, token) as client:
            await client.sign_out()

    problem = None
    try:
        asyncio.run(revoke())
    except errors.ApiError as error:
        problem = error
    ctx.store.delete(profile.server, profile.email)  # forget it locally even if the server is away
    if problem is not None:
        fail(f"Signed out here, but the server could not revoke the token: {problem.message}")
    click.echo(f"Signed out of {profile.server}.", err=True)


def money_option(value: str | None, hint: str) -> Decimal | None:
    """A credits amount typed on the command line, exactly, or a usage error naming the option."""
    from pydantic import TypeAdapter, ValidationError

    from credits_tui.api_client.models import Money

    if value is None:
        return None
    try:
        return TypeAdapter(Money).validate_python(value.replace(",", ""))
    except ValidationError as problem:
        raise click.BadParameter(problem.errors()[0]["msg"], param_hint=hint) from None


@main.command()
@server_option
@click.option("--json", "as_json", is_flag=True, help="Print the account status as JSON.")
@click.option("--fail-below", metavar="AMOUNT",
              help="Exit with status 3 (and say so on stderr) when the balance is below AMOUNT: for cron.")
@click.pass_obj
def balance(ctx: Context, server: str | None, as_json: bool, fail_below: str | None) -> None:
    """Show the Purchase Credits balance."""
    from credits_tui.formatting import credits_text

    floor = money_option(fail_below, "--fail-below")
    status = run_client_command(ctx, server, lambda client: client.status())
    if as_json:
        click.echo(status.model_dump_json(indent=2))
    else:
        click.echo(f"{status.account.name}: {credits_text(status.purchase_credits)} Purchase Credits")
        card = status.card_on_file
        click.echo(f"Card on file: {card.brand} ending {card.last4}, expires {card.exp_month:02d}/{card.exp_year}"
                   if card else "Card on file: none")
    if floor is not None and status.purchase_credits < floor:
        fail(f"The balance of {printable(status.account.name)} is {credits_text(status.purchase_credits)} "
             f"credits, below {credits_text(floor)}.", 3)


@main.command()
@click.argument("amount")
@server_option
@click.option("--yes", "-y", is_flag=True, help="Buy without asking to confirm.")
@click.option("--json", "as_json", is_flag=True, help="Print the purchase result as JSON.")
@click.pass_obj
def buy(ctx: Context, amount: str, server: str | None, yes: bool, as_json: bool) -> None:
    """Buy AMOUNT Purchase Credits (1 credit = 1.00 USD) on the card on file."""
    from credits_tui.api_client import errors
    from credits_tui.api_client.client import parse_purchase_amount
    from credits_tui.formatting import credits_text

    try:
        value = parse_purchase_amount(amount)
    except errors.ValidationError as problem:
        raise click.BadParameter(problem.message, param_hint="AMOUNT") from None
    if not yes and not sys.stdin.isatty():
        raise click.UsageError("No terminal to confirm the purchase: add --yes to buy without asking.")

    async def purchase(client: CreditsClient):
        status = await client.status()
        card = status.card_on_file
        if card is None:
            raise errors.CardRequiredError("There is no card on file: add one in the app's Billing screen first.")
        if not yes:
            after = credits_text(status.purchase_credits + value)
            question = (f"Buy {credits_text(value)} credits for {credits_text(value)} USD on the {card.brand} card "
                        f"ending {card.last4}? The balance will be {after}.")
            confirmed = await asyncio.to_thread(click.confirm, question, default=False, err=True)
            if not confirmed:
                return None
        return await client.purchase(value)

    result = run_client_command(ctx, server, purchase)
    if result is None:
        fail("Nothing was bought.", 1)
    if as_json:
        click.echo(result.model_dump_json(indent=2))
    else:
        click.echo(f"Bought {credits_text(result.purchase.amount)} credits, charged to the card ending "
                   f"{result.purchase.card_last4}. Balance: {credits_text(result.purchase_credits)}.")


@main.command()
@server_option
@click.option("--since", metavar="WHEN", help="From: 30d, 12h, 2w ago, or a date/time (ISO 8601).")
@click.option("--until", metavar="WHEN", help="Up to (excluded): same forms as --since.")
@click.option("--type", "types", multiple=True, metavar="TYPE",
              help="Transaction type: purchase, usage, auto_recharge, invoice_payment, refund, adjustment.")
@click.option("--process-type", "process_types", multiple=True, metavar="ID", help="Process type id, e.g. postcard.")
@click.option("--user", metavar="EMAIL|ID", help="Only transactions caused by this user.")
@click.option("--search", "-q", "q", metavar="WORDS", help="Free text over users, types and descriptions.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many rows (table default: 50).")
@click.option("--format", "output", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@click.pass_obj
def transactions(ctx: Context, server: str | None, since: str | None, until: str | None, types: tuple[str, ...],
                 process_types: tuple[str, ...], user: str | None, q: str | None, limit: int | None,
                 output: str) -> None:
    """List transactions, newest first; csv and json stream any number of rows."""
    import pydantic

    from credits_tui.api_client.models import TransactionQuery
    from credits_tui.formatting import parse_when

    try:
        query = TransactionQuery(
            since=parse_when(since) if since else None, until=parse_when(until) if until else None,
            transaction_type=list(types), process_type=list(process_types), user=user, q=q)
    except ValueError as problem:  # pydantic's ValidationError is a ValueError too
        detail = problem.errors()[0] if isinstance(problem, pydantic.ValidationError) else None
        message = f"--{detail['loc'][0]}: {detail['msg']}".replace("transaction_type", "type") if detail else str(problem)
        raise click.UsageError(message.replace("process_type", "process-type")) from None
    if output == "csv" and limit is not None:
        raise click.UsageError("--limit applies to table and json; csv exports the whole selection "
                               "(narrow it with --since, --type, ...).")
    if output == "table":
        limit = limit or 50

    async def emit(client: CreditsClient) -> None:
        if output == "csv":
            async for chunk in client.stream_csv(query):
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            return
        rows = client.iter_transactions(query, page_size=min(limit or 500, 500))
        if output == "table":
            items = [item async for item in _take(rows, limit)]
            print_table(items)
        else:
            await _print_json_array(_take(rows, limit))

    run_client_command(ctx, server, emit)


async def _print_json_array(items) -> None:
    """A JSON array, one item per line, written as the items arrive (any number of them)."""
    first = True
    sys.stdout.write("[")
    async for item in items:
        sys.stdout.write(("\n" if first else ",\n") + item.model_dump_json())
        first = False
    sys.stdout.write("\n]\n" if not first else "]\n")


async def _take(rows, limit: int | None):
    count = 0
    async for row in rows:
        if limit is not None and count >= limit:
            return
        count += 1
        yield row


def print_table(items) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from credits_tui.formatting import credits_text

    table = Table(show_edge=False, pad_edge=False)
    for name, justify in (("Time (UTC)", "left"), ("Type", "left"), ("Process", "left"), ("User", "left"),
                          ("Amount", "right"), ("Balance", "right"), ("Description", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for item in items:
        table.add_row(
            item.created_at.strftime("%Y-%m-%d %H:%M"), item.transaction_type.value, item.process_type or "",
            Text(item.user.email if item.user else ""),
            Text(credits_text(item.amount, signed=True), style="green" if item.amount > 0 else "red"),
            credits_text(item.balance_after), Text(item.description),  # server text: never markup
        )
    Console().print(table)
    if not items:
        click.echo("No transactions match.", err=True)


@main.command()
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
            seed_demo(database, settings, transactions=count)
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


@main.command("close-month")
@click.option("--period", metavar="YYYY-MM", help="The month to close (default: last month, UTC).")
@database_url_option
def close_month(period: str | None, database_url: str | None) -> None:
    """Invoice post-paid (transcription) shortfalls for a month and charge the cards on file."""
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


@main.command()
@click.option("--since", metavar="WHEN", help="Only charges and transactions from: 30d, 12h, 2w ago, or a "
                                              "date/time (ISO 8601, UTC if no zone). Default: all.")
@database_url_option
def reconcile(since: str | None, database_url: str | None) -> None:
    """Check that every gateway charge has exactly one purchase, auto-recharge or invoice-payment
    transaction and each of those one charge; print each mismatch (exit 1), or exit 0."""
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


@main.command()
@click.argument("transaction_id", type=click.IntRange(min=1))
@server_option
@click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False, writable=True, allow_dash=True), metavar="FILE",
              help="Save the receipt as a PDF to FILE ('-' for standard output).")
@click.option("--json", "as_json", is_flag=True, help="Print the receipt as JSON.")
@click.pass_obj
def receipt(ctx: Context, transaction_id: int, server: str | None, pdf_path: str | None, as_json: bool) -> None:
    """Show (or save as PDF) the receipt of a purchase, auto-recharge or invoice payment."""
    if pdf_path == "-" and as_json:
        raise click.UsageError("--pdf - and --json would both write to standard output: choose one.")

    async def fetch(client: CreditsClient):
        found = await client.receipt(transaction_id)
        return found, (await client.receipt_pdf(transaction_id) if pdf_path else None)

    found, pdf = run_client_command(ctx, server, fetch)
    if pdf is not None:
        try:
            with click.open_file(pdf_path, "wb", atomic=pdf_path != "-") as out:
                out.write(pdf)
        except OSError as problem:
            fail(f"Cannot save the receipt to {pdf_path}: {problem.strerror or problem}.")
        if pdf_path != "-":
            click.echo(f"Saved receipt {found.number} to {pdf_path}.", err=True)
    if as_json:
        click.echo(found.model_dump_json(indent=2))
    elif pdf is None:
        print_receipt(found)


def print_receipt(found: Receipt) -> None:
    from credits_tui.formatting import credits_text

    card = f"{found.card.brand} ending {found.card.last4}" if found.card else "card"
    lines = [
        f"Receipt {found.number}",
        f"Seller:      {found.seller.name}, {', '.join(found.seller.address)}",
        f"Billed to:   {found.account.name} (account {found.account.id})",
        f"Date:        {found.issued_at.strftime('%Y-%m-%d %H:%M:%S')} UTC",
        f"Description: {found.transaction.description}",
        f"Amount:      {credits_text(found.amount_usd)} USD",
        f"Paid with:   {card}",
    ]
    click.echo("\n".join(printable(line) for line in lines))


def printable(text: str) -> str:
    """Server text bound for a terminal: no control character (an escape sequence) passes."""
    return "".join(c if c.isprintable() else "?" for c in text)


# --- never run out: auto-recharge and alerts ------------------------------------------------


@main.command("auto-recharge")
@server_option
@click.option("--on/--off", "enabled", default=None, help="Turn auto-recharge on or off.")
@click.option("--threshold", metavar="AMOUNT", help="Recharge when a use of credits leaves the balance below this.")
@click.option("--recharge-to", metavar="AMOUNT", help="The balance a recharge brings the account back to.")
@click.option("--json", "as_json", is_flag=True, help="Print the setting as JSON.")
@click.pass_obj
def auto_recharge(ctx: Context, server: str | None, enabled: bool | None, threshold: str | None,
                  recharge_to: str | None, as_json: bool) -> None:
    """Show auto-recharge, or change it (admins): --on --threshold 500 --recharge-to 2000."""
    from credits_tui.api_client.models import AutoRechargeUpdate

    new_threshold = money_option(threshold, "--threshold")
    new_to = money_option(recharge_to, "--recharge-to")

    async def apply(client: CreditsClient):
        current = await client.auto_recharge()
        if enabled is None and new_threshold is None and new_to is None:
            return current
        return await client.put_auto_recharge(AutoRechargeUpdate(
            enabled=current.enabled if enabled is None else enabled,
            threshold=current.threshold if new_threshold is None else new_threshold,
            recharge_to=current.recharge_to if new_to is None else new_to))

    rule = run_client_command(ctx, server, apply)
    if as_json:
        click.echo(rule.model_dump_json(indent=2))
        return
    from credits_tui.api_client.models import AUTO_RECHARGE_MAX_FAILURES
    from credits_tui.formatting import credits_text

    if rule.enabled and rule.threshold is not None and rule.recharge_to is not None:
        click.echo(f"Auto-recharge: on. Below {credits_text(rule.threshold)} credits, the card on file "
                   f"recharges the balance to {credits_text(rule.recharge_to)}.")
    elif rule.consecutive_failures >= AUTO_RECHARGE_MAX_FAILURES:
        click.echo(f"Auto-recharge: off, turned off after {rule.consecutive_failures} failed charges in a row.")
    else:
        click.echo("Auto-recharge: off.")
    if rule.last_failure is not None:
        failure = rule.last_failure
        click.echo(f"Last failure: {failure.at:%Y-%m-%d %H:%M} UTC, {printable(failure.message)} "
                   f"({rule.consecutive_failures} in a row)")


@main.command()
@server_option
@click.option("--below", metavar="AMOUNT", help="Alert when the balance falls below AMOUNT.")
@click.option("--no-below", is_flag=True, help="No low-balance alert.")
@click.option("--recipient", "recipients", multiple=True, metavar="EMAIL",
              help="Who is told (repeat for several; users of the account). Default: the admins.")
@click.option("--json", "as_json", is_flag=True, help="Print the settings as JSON.")
@click.pass_obj
def alerts(ctx: Context, server: str | None, below: str | None, no_below: bool, recipients: tuple[str, ...],
           as_json: bool) -> None:
    """Show the low-balance alert and who gets notifications, or change them (admins)."""
    from credits_tui.api_client import errors
    from credits_tui.api_client.models import NotificationSettingsUpdate

    if below is not None and no_below:
        raise click.UsageError("--below and --no-below contradict each other: choose one.")
    threshold = money_option(below, "--below")

    async def apply(client: CreditsClient):
        current, users = await client.notification_settings(), (await client.users()).items
        if threshold is not None or no_below or recipients:
            ids = {user.email.lower(): user.id for user in users}
            if unknown := [email for email in recipients if email.lower() not in ids]:
                raise errors.ValidationError(f"{unknown[0]} is not a user of this account.")
            current = await client.put_notification_settings(NotificationSettingsUpdate(
                low_balance_threshold=None if no_below else (threshold if threshold is not None
                                                             else current.low_balance_threshold),
                recipients=[ids[email.lower()] for email in recipients] if recipients else current.recipients))
        return current, users

    settings, users = run_client_command(ctx, server, apply)
    if as_json:
        click.echo(settings.model_dump_json(indent=2))
        return
    from credits_tui.formatting import credits_text

    limit = settings.low_balance_threshold
    click.echo(f"Low-balance alert: below {credits_text(limit)} credits" if limit is not None
               else "Low-balance alert: off")
    names = {user.id: f"{user.name} <{user.email}>" for user in users}
    told = ", ".join(printable(names.get(i, f"user {i}")) for i in settings.recipients)
    click.echo(f"Notifications go to: {told or 'nobody'}")



@main.command()
@server_option
@click.option("--since", metavar="WHEN", help="From: 30d, 12h, 2w ago, or a date/time (ISO 8601).")
@click.option("--until", metavar="WHEN", help="Up to (excluded): same forms as --since.")
@click.option("--action", "actions", multiple=True, metavar="ACTION",
              help="Only this action, e.g. auth.sign_in, card.replace, purchase.create (repeatable).")
@click.option("--actor", metavar="EMAIL|ID", help="Only what this user of the account did.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many rows (table default: 50).")
@click.option("--format", "output", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@click.pass_obj
def audit(ctx: Context, server: str | None, since: str | None, until: str | None, actions: tuple[str, ...],
          actor: str | None, limit: int | None, output: str) -> None:
    """The account's audit log, newest first: sign-ins, card changes, purchases, exports (admins)."""
    import pydantic

    from credits_tui.api_client.models import AUDIT_ACTIONS, AuditQuery
    from credits_tui.formatting import parse_when

    try:
        query = AuditQuery(since=parse_when(since) if since else None, until=parse_when(until) if until else None,
                           action=list(actions), actor=actor)
    except ValueError as problem:  # pydantic's ValidationError is a ValueError too
        detail = problem.errors()[0] if isinstance(problem, pydantic.ValidationError) else None
        if detail and detail["loc"][0] == "action":
            raise click.UsageError(f"--action must be one of: {', '.join(AUDIT_ACTIONS)}.") from None
        raise click.UsageError(f"--{detail['loc'][0]}: {detail['msg']}" if detail else str(problem)) from None
    if output == "table":
        limit = limit or 50

    async def emit(client: CreditsClient) -> None:
        rows = _take(client.iter_audit(query, page_size=min(limit or 500, 500)), limit)
        if output == "json":
            await _print_json_array(rows)
        elif output == "csv":
            await _print_audit_csv(rows)
        else:
            print_audit_table([item async for item in rows])

    run_client_command(ctx, server, emit)


def _audit_detail(event: AuditEvent) -> str:
    return " ".join(f"{key}={'' if value is None else value}" for key, value in event.detail.items())


def _spreadsheet_cell(value: str) -> str:
    """Server text as a spreadsheet shows it, never run as a formula (CSV injection)."""
    return "'" + value if value.startswith(("=", "+", "-", "@", "\t", "\r")) else value


async def _print_audit_csv(rows) -> None:
    import csv

    writer = csv.writer(sys.stdout, lineterminator="\r\n")
    writer.writerow(["id", "at", "actor_email", "actor_name", "action", "target", "ip", "outcome", "detail"])
    async for event in rows:
        writer.writerow([event.id, event.at.isoformat().replace("+00:00", "Z"),
                         *(_spreadsheet_cell(text) for text in (
                             event.actor.email if event.actor else "", event.actor.name if event.actor else "",
                             event.action, event.target or "", event.ip or "")),
                         event.outcome.value, _spreadsheet_cell(_audit_detail(event))])


def print_audit_table(items: list[AuditEvent]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(show_edge=False, pad_edge=False)
    for name in ("Time (UTC)", "Action", "Outcome", "Actor", "Target", "IP", "Detail"):
        table.add_column(name)
    for event in items:
        table.add_row(  # server text: never markup
            event.at.strftime("%Y-%m-%d %H:%M:%S"), Text(event.action),
            Text(event.outcome.value, style="green" if event.outcome.value == "success" else "red"),
            Text(event.actor.email if event.actor else "—"), Text(event.target or ""), Text(event.ip or ""),
            Text(_audit_detail(event)),
        )
    Console().print(table)
    if not items:
        click.echo("No audit events match.", err=True)


if __name__ == "__main__":
    main()
