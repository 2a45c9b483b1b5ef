"""What happened on the account: transactions, receipts and the audit log."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from credits_tui.cli.common import Context, fail, run_client_command, server_option
from credits_tui.cli.output import (
    print_audit_csv,
    print_audit_table,
    print_json_array,
    print_receipt,
    print_transactions,
    take,
)

if TYPE_CHECKING:
    from credits_tui.api_client.client import CreditsClient
    from credits_tui.api_client.models import Receipt


# The wire's field names as this command's options are spelled.
_OPTIONS = {"q": "search", "transaction_type": "type", "process_type": "process-type"}


@click.command()
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
        query = TransactionQuery.model_validate({  # the options as typed: the model checks them
            "since": parse_when(since) if since else None, "until": parse_when(until) if until else None,
            "transaction_type": list(types), "process_type": list(process_types), "user": user, "q": q})
    except ValueError as problem:  # pydantic's ValidationError is a ValueError too
        detail = problem.errors()[0] if isinstance(problem, pydantic.ValidationError) else None
        option = _OPTIONS.get(str(detail["loc"][0]), str(detail["loc"][0])) if detail else ""
        raise click.UsageError(f"--{option}: {detail['msg']}" if detail else str(problem)) from None
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
            items = [item async for item in take(rows, limit)]
            print_transactions(items)
        else:
            await print_json_array(take(rows, limit))

    run_client_command(ctx, server, emit)


@click.command()
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

    async def fetch(client: CreditsClient) -> tuple[Receipt, bytes | None]:
        found = await client.receipt(transaction_id)
        return found, (await client.receipt_pdf(transaction_id) if pdf_path else None)

    found, pdf = run_client_command(ctx, server, fetch)
    if pdf_path is not None and pdf is not None:
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



@click.command()
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
        query = AuditQuery.model_validate({"since": parse_when(since) if since else None,
                                           "until": parse_when(until) if until else None,
                                           "action": list(actions), "actor": actor})
    except ValueError as problem:  # pydantic's ValidationError is a ValueError too
        detail = problem.errors()[0] if isinstance(problem, pydantic.ValidationError) else None
        if detail and detail["loc"][0] == "action":
            raise click.UsageError(f"--action must be one of: {', '.join(AUDIT_ACTIONS)}.") from None
        raise click.UsageError(f"--{detail['loc'][0]}: {detail['msg']}" if detail else str(problem)) from None
    if output == "table":
        limit = limit or 50

    async def emit(client: CreditsClient) -> None:
        rows = take(client.iter_audit(query, page_size=min(limit or 500, 500)), limit)
        if output == "json":
            await print_json_array(rows)
        elif output == "csv":
            await print_audit_csv(rows)
        else:
            print_audit_table([item async for item in rows])

    run_client_command(ctx, server, emit)


COMMANDS = (transactions, receipt, audit)
