"""How the client commands print: tables (rich, loaded only for a table), CSV, JSON, receipts."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, TypeVar

import click

from credits_tui.cli.common import printable

if TYPE_CHECKING:
    import pydantic

    from credits_tui.api_client.models import AuditEvent, Receipt, Transaction

Item = TypeVar("Item")
_WHOLE = ("Time (UTC)", "Type", "Amount", "Balance", "Action", "Outcome")  # table columns never cut short


async def take(rows: AsyncIterator[Item], limit: int | None) -> AsyncIterator[Item]:
    """At most ``limit`` of ``rows`` (all of them when None), without reading one more page."""
    count = 0
    async for row in rows:
        if limit is not None and count >= limit:
            return
        count += 1
        yield row


async def print_json_array(items: AsyncIterator[pydantic.BaseModel]) -> None:
    """A JSON array, one item per line, written as the items arrive (any number of them)."""
    first = True
    async for item in items:  # "[" with the first item: a command refused before it prints nothing
        sys.stdout.write(("[\n" if first else ",\n") + item.model_dump_json())
        first = False
    sys.stdout.write("[]\n" if first else "\n]\n")


def print_transactions(items: Sequence[Transaction]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from credits_tui.formatting import credits_text

    table = Table(show_edge=False, pad_edge=False)
    for name, justify in (("Time (UTC)", "left"), ("Type", "left"), ("Process", "left"), ("User", "left"),
                          ("Amount", "right"), ("Balance", "right"), ("Description", "left")):
        # Figures and times are never cut short in a narrow terminal: the text columns wrap instead.
        table.add_column(name, justify=justify, no_wrap=name in _WHOLE)  # type: ignore[arg-type]
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


def audit_detail(event: AuditEvent) -> str:
    return " ".join(f"{key}={'' if value is None else value}" for key, value in event.detail.items())


async def print_audit_csv(rows: AsyncIterator[AuditEvent]) -> None:
    import csv

    from credits_tui.formatting import spreadsheet_cell

    writer = csv.writer(sys.stdout, lineterminator="\r\n")
    writer.writerow(["id", "at", "actor_email", "actor_name", "action", "target", "ip", "outcome", "detail"])
    async for event in rows:
        writer.writerow([event.id, event.at.isoformat().replace("+00:00", "Z"),
                         *(spreadsheet_cell(text) for text in (
                             event.actor.email if event.actor else "", event.actor.name if event.actor else "",
                             event.action, event.target, event.ip)),
                         event.outcome.value, spreadsheet_cell(audit_detail(event))])


def print_audit_table(items: Sequence[AuditEvent]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(show_edge=False, pad_edge=False)
    for name in ("Time (UTC)", "Action", "Outcome", "Actor", "Target", "IP", "Detail"):
        table.add_column(name, no_wrap=name in _WHOLE)
    for event in items:
        table.add_row(  # server text: never markup
            event.at.strftime("%Y-%m-%d %H:%M:%S"), Text(event.action),
            Text(event.outcome.value, style="green" if event.outcome.value == "success" else "red"),
            Text(event.actor.email if event.actor else "—"), Text(event.target or ""), Text(event.ip or ""),
            Text(audit_detail(event)),
        )
    Console().print(table)
    if not items:
        click.echo("No audit events match.", err=True)


def print_receipt(found: Receipt) -> None:
    from credits_tui.formatting import card_label, credits_text

    card = card_label(found.card.brand, found.card.last4) if found.card else "card"
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
