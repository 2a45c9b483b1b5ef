"""The commands of an account's people: sign in and out, the balance, buying, auto-recharge, alerts."""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING

import click

from credits_tui.cli.common import (
    Context,
    fail,
    money_option,
    printable,
    run_client_command,
    run_one_shot,
    server_option,
)

if TYPE_CHECKING:
    from credits_tui.api_client.client import CreditsClient
    from credits_tui.api_client.models import (
        AccountUser,
        AutoRecharge,
        NotificationSettings,
        PurchaseResult,
        TokenResponse,
    )


class TokenNotKept(Exception):
    """Signed in, but no keyring could keep the token: it was revoked (or the server said no)."""


@click.command()
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
    import asyncio
    import shlex

    from credits_tui.api_client import errors
    from credits_tui.api_client.client import CreditsClient, normalise_server
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
    if email is not None and not email.strip():  # typed, but empty: not a wish for the profile's email
        raise click.BadParameter("the email is empty.", param_hint="--email")
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
                # It may have expired already; the new sign-in stands either way.
                async with CreditsClient(server, replaced) as old:
                    with contextlib.suppress(errors.ApiError):
                        await old.sign_out()
            return answer

    try:
        answer = asyncio.run(sign_in())
    except errors.ValidationError as problem:  # an email or password no account can have (ours or the server's check)
        fail(problem.message, 2)
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


@click.command()
@click.pass_obj
def logout(ctx: Context) -> None:
    """Revoke the token on the server and delete it from the keyring."""
    import asyncio

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

    try:
        asyncio.run(revoke())
    except errors.ApiError as problem:
        fail(f"Signed out here, but the server could not revoke the token: {problem.message}")
    finally:
        ctx.store.delete(profile.server, profile.email)  # forget it locally even if the server is away
    click.echo(f"Signed out of {profile.server}.", err=True)


@click.command()
@server_option
@click.option("--json", "as_json", is_flag=True, help="Print the account status as JSON.")
@click.option("--fail-below", metavar="AMOUNT",
              help="Exit with status 3 (and say so on stderr) when the balance is below AMOUNT: for cron.")
@click.pass_obj
def balance(ctx: Context, server: str | None, as_json: bool, fail_below: str | None) -> None:
    """Show the Purchase Credits balance."""
    from credits_tui.api_client.models import AccountStatus

    floor = money_option(fail_below, "--fail-below")
    status = run_one_shot(ctx, server, lambda client: client.get("/account/status", AccountStatus))
    if as_json:
        click.echo(status.model_dump_json(indent=2))
    from credits_tui.formatting import card_label, credits_text

    if not as_json:
        click.echo(f"{status.account.name}: {credits_text(status.purchase_credits)} Purchase Credits")
        card = status.card_on_file
        click.echo(f"Card on file: {card_label(card.brand, card.last4)}, expires {card.exp_month:02d}/{card.exp_year}"
                   if card else "Card on file: none")
    if floor is not None and status.purchase_credits < floor:
        fail(f"The balance of {printable(status.account.name)} is {credits_text(status.purchase_credits)} "
             f"credits, below {credits_text(floor)}.", 3)


@click.command()
@click.argument("amount")
@server_option
@click.option("--yes", "-y", is_flag=True, help="Buy without asking to confirm.")
@click.option("--json", "as_json", is_flag=True, help="Print the purchase result as JSON.")
@click.pass_obj
def buy(ctx: Context, amount: str, server: str | None, yes: bool, as_json: bool) -> None:
    """Buy AMOUNT Purchase Credits (1 credit = 1.00 USD) on the card on file."""
    import asyncio

    from credits_tui.api_client import errors
    from credits_tui.api_client.client import parse_purchase_amount
    from credits_tui.formatting import card_label, credits_text, plain_amount

    try:
        value = parse_purchase_amount(plain_amount(amount))  # as the app takes it: "1,000.50", "25."
    except errors.ValidationError as problem:
        raise click.BadParameter(problem.message, param_hint="AMOUNT") from None
    except ValueError as problem:
        raise click.BadParameter(str(problem), param_hint="AMOUNT") from None
    if not yes and not sys.stdin.isatty():
        raise click.UsageError("No terminal to confirm the purchase: add --yes to buy without asking.")

    async def purchase(client: CreditsClient) -> PurchaseResult | None:
        status = await client.status()
        card = status.card_on_file
        if card is None:
            raise errors.CardRequiredError("There is no card on file: add one in the app's Billing screen first.")
        if not yes:
            after = credits_text(status.purchase_credits + value)
            question = (f"Buy {credits_text(value)} credits for {credits_text(value)} USD on the "
                        f"{card_label(card.brand, card.last4)}? The balance will be {after}.")
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


# --- never run out: auto-recharge and alerts ------------------------------------------------


@click.command("auto-recharge")
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

    async def apply(client: CreditsClient) -> AutoRecharge:
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


@click.command()
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

    async def apply(client: CreditsClient) -> tuple[NotificationSettings, list[AccountUser]]:
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


COMMANDS = (login, logout, balance, buy, auto_recharge, alerts)
