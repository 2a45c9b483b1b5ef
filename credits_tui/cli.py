"""The ``credits-tui`` command line (click).

Every command imports what it needs when it runs, so a quick command never pays for the
server stack (FastAPI, SQLAlchemy) or the TUI.
"""

from __future__ import annotations

import os
import sys

import click

from credits_tui import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="credits-tui")
def main() -> None:
    """Manage Lead Liaison Purchase Credits from the terminal."""


def _open_database(database_url: str | None):
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
def serve(host: str, port: int, database_url: str | None, workers: int, demo: bool,
          demo_transactions: int | None, log_level: str) -> None:
    """Run the reference Purchase Credits backend."""
    import uvicorn

    from credits_tui.backend.demo import DEMO_TRANSACTIONS, is_empty, seed_demo

    if demo_transactions is not None and not demo:
        raise click.UsageError("--demo-transactions goes with --demo")
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
                workers=workers, log_level=log_level, proxy_headers=False)


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
        results = InvoicingService(database, settings, TestGateway()).close_month(period)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--period") from None
    if not results:
        click.echo(f"{period}: no account owes anything.")
    failed = 0
    for result in results:
        click.echo(f"{period}: {result.account_name}: {result.status.value}: {result.message}")
        failed += result.status.value != "paid"
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
