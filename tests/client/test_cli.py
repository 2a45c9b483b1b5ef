"""The ``credits-tui`` command line, run as a person runs it against the real backend on
loopback, with its own home, config and data directories (DESIGN.md §5): in this process through
click's runner, and as a subprocess where the process itself matters (tests/support/cli.py).

The token goes to the OS keyring. When this process can use a real Secret Service (CI runs
the tests under dbus-run-session with gnome-keyring unlocked) the subprocess uses it too;
otherwise it is pointed at ``tests.support.file_keyring.FileKeyring``, a JSON file in a
directory of its own that stands in for the keyring.
"""
# The CLI fixtures are tests/support/cli.py's, imported: pytest finds them by the argument names.
# ruff: noqa: F811

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from credits_tui.auth.profiles import Config, Profile, save_config
from credits_tui.formatting import credits_text
from tests.support import RawServer, closed_port
from tests.support.backend import ADMIN, MEMBER, OTHER_ADMIN, PASSWORD, SUPPORT
from tests.support.cli import (  # noqa: F401
    admin_token,
    api_url,
    cli,
    process_cli,
    raw,
    secret_service,
    server,
    signed_in,
)

CSV_HEADER = ["id", "created_at", "transaction_type", "process_type", "user_email", "user_name", "amount",
              "balance_after", "description", "reference"]


# --- login ---------------------------------------------------------------------------------------


def test_login_keeps_the_token_in_the_keyring_and_nowhere_else(process_cli, raw):
    cli = process_cli  # a real process: the keyring is the one its environment chooses
    result = cli.run("login", "--server", cli.server + "/api/v1/", "--email", SUPPORT, "--password-stdin",
                     input=PASSWORD + "\n")
    assert result.code == 0, result.stderr
    assert SUPPORT in result.stderr and cli.server in result.stderr
    config = cli.dirs[1] / "credits-tui" / "config.toml"
    text = config.read_text()
    assert f'server = "{cli.server}"' in text and f'email = "{SUPPORT}"' in text
    assert oct(config.stat().st_mode & 0o777) == oct(0o600)

    token = cli.keyring.get(cli.server, SUPPORT)
    assert token and raw.get("/me", token).json()["email"] == SUPPORT  # a live token for this user
    assert token not in result.stdout + result.stderr
    files = cli.files()
    assert config in files
    for path in files:
        assert token.encode() not in path.read_bytes(), path

    # Signing in again needs no --email: the profile has it. The new token replaces the old.
    again = cli.run("login", "--password-stdin", input=PASSWORD + "\n")
    assert again.code == 0, again.stderr
    renewed = cli.keyring.get(cli.server, SUPPORT)
    assert renewed and renewed != token and raw.get("/me", renewed).json()["email"] == SUPPORT
    cli.secrets += [token, renewed]
    for path in cli.files():
        assert renewed.encode() not in path.read_bytes(), path


def test_login_with_a_wrong_password_fails_in_one_line_and_keeps_nothing(cli):
    result = cli.run("login", "--server", cli.server, "--email", SUPPORT, "--password-stdin",
                     input="wrong-password\n")
    assert result.code == 1
    assert "wrong-password" not in result.one_line_error()
    assert cli.keyring.get(cli.server, SUPPORT) is None
    assert not (cli.dirs[1] / "credits-tui" / "config.toml").exists()


def test_login_needs_a_password_from_somewhere(cli):
    empty = cli.run("login", "--server", cli.server, "--email", SUPPORT, "--password-stdin", input="")
    assert empty.code == 2 and "password" in empty.stderr.lower()
    no_tty = cli.run("login", "--server", cli.server, "--email", SUPPORT)
    assert no_tty.code == 2 and "--password-stdin" in no_tty.stderr
    assert cli.keyring.get(cli.server, SUPPORT) is None


def test_login_without_an_email_and_no_terminal_is_a_usage_error(cli):
    piped = cli.run("login", "--server", cli.server, "--password-stdin", input=PASSWORD + "\n")
    assert piped.code == 2 and "--email" in piped.stderr
    assert PASSWORD not in piped.stderr
    nothing = cli.run("login", "--server", cli.server)
    assert nothing.code == 2 and "--email" in nothing.stderr
    assert not (cli.dirs[1] / "credits-tui" / "config.toml").exists()


def test_login_with_an_empty_email_is_a_usage_error(signed_in):
    """Not a sign-in as the profile's email, which a script's empty variable would give."""
    result = signed_in.run("login", "--email", "", "--password-stdin", input="whatever")
    assert result.code == 2
    assert "--email" in result.one_line_error() and "empty" in result.one_line_error()


def test_login_refuses_a_server_that_is_not_a_url(cli):
    result = cli.run("login", "--server", "localhost:8000", "--email", SUPPORT, "--password-stdin",
                     input=PASSWORD + "\n")
    assert result.code == 2 and "http" in result.stderr


def test_the_app_opens_at_a_named_section_and_an_unknown_one_is_a_usage_error(cli):
    listed = cli.run("--help")
    assert listed.code == 0 and "--section" in listed.stdout and "manage" in listed.stdout
    result = cli.run("--section", "nowhere")
    assert result.code == 2 and "nowhere" in result.stderr and "manage" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# --- balance and buy ------------------------------------------------------------------------------


def test_balance_as_text_and_json(signed_in, admin_token, raw):
    balance = raw.balance(admin_token)
    text = signed_in.run("balance")
    assert text.code == 0, text.stderr
    assert "Demo Co." in text.stdout and credits_text(balance) in text.stdout and "4242" in text.stdout

    as_json = signed_in.run("balance", "--json")
    assert as_json.code == 0, as_json.stderr
    status = json.loads(as_json.stdout)
    assert status["purchase_credits"] == f"{balance:.2f}"
    assert status["account"]["name"] == "Demo Co."
    assert status["card_on_file"]["last4"] == "4242"


def test_buy_with_yes(signed_in, admin_token, raw):
    before = raw.balance(admin_token)
    bought = signed_in.run("buy", "25", "--yes")
    assert bought.code == 0, bought.stderr
    assert raw.balance(admin_token) == before + Decimal("25.00")
    assert "25.00" in bought.stdout and credits_text(before + 25) in bought.stdout

    as_json = signed_in.run("buy", "12.34", "--yes", "--json")
    assert as_json.code == 0, as_json.stderr
    result = json.loads(as_json.stdout)
    assert result["purchase"]["amount"] == "12.34" and result["purchase"]["card_last4"] == "4242"
    assert result["purchase_credits"] == f"{before + Decimal('37.34'):.2f}"
    assert raw.balance(admin_token) == before + Decimal("37.34")


BAD_AMOUNTS = ["0.5", "1.001", "abc", "NaN"]


def test_a_bad_amount_is_refused_with_exit_2_and_buys_nothing(signed_in, admin_token, raw):
    before = raw.balance(admin_token)
    result = signed_in.run("buy", "1.001", "--yes")
    assert result.code == 2, result.stderr
    assert "AMOUNT" in result.stderr and "0.01" in result.stderr  # says why
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr  # one line, like every error
    assert raw.balance(admin_token) == before


def test_bad_amounts_make_no_request_at_all(cli):
    def record(conn, server):
        server.read(conn)
        conn.close()

    with RawServer(record) as listener:
        env = {"CREDITS_TUI_SERVER": listener.url, "CREDITS_TUI_TOKEN": "tok-never-sent-0123"}
        for amount in BAD_AMOUNTS:
            result = cli.run("buy", "--yes", "--", amount, env=env)
            assert result.code == 2, (amount, result.stderr)
        assert listener.connections == 0
        control = cli.run("buy", "5", "--yes", env=env)  # a good amount does reach the server
        assert control.code == 1
        assert listener.connections >= 1


def test_buy_without_yes_and_without_a_terminal_is_a_usage_error(signed_in, admin_token, raw):
    before = raw.balance(admin_token)
    result = signed_in.run("buy", "5")
    assert result.code == 2 and "--yes" in result.stderr
    assert raw.balance(admin_token) == before


def test_buy_without_a_card_fails_in_one_line(cli, raw):
    token = raw.token(OTHER_ADMIN)
    before = raw.balance(token)
    result = cli.run("buy", "5", "--yes", env={"CREDITS_TUI_SERVER": cli.server, "CREDITS_TUI_TOKEN": token})
    assert result.code == 1
    assert "card" in result.one_line_error().lower()
    assert raw.balance(token) == before


def test_a_member_is_refused_in_one_line(cli, raw):
    result = cli.run("balance", env={"CREDITS_TUI_SERVER": cli.server, "CREDITS_TUI_TOKEN": raw.token(MEMBER)})
    assert result.code == 1
    result.one_line_error()


# --- transactions -----------------------------------------------------------------------------------


def test_transactions_as_csv(signed_in, admin_token, raw):
    result = signed_in.run("transactions", "--type", "purchase", "--format", "csv")
    assert result.code == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == CSV_HEADER
    assert len(rows) - 1 == raw.count(admin_token, transaction_type="purchase") > 0
    assert {row[2] for row in rows[1:]} == {"purchase"}


def test_transactions_as_json(signed_in, admin_token, raw):
    result = signed_in.run("transactions", "--type", "usage", "--user", ADMIN, "--format", "json")
    assert result.code == 0, result.stderr
    items = json.loads(result.stdout)
    assert isinstance(items, list)
    assert len(items) == raw.count(admin_token, transaction_type="usage", user=ADMIN) > 0
    assert all(i["transaction_type"] == "usage" and i["user"]["email"] == ADMIN for i in items)
    assert len({i["id"] for i in items}) == len(items)

    newest = raw.get("/credits/transactions", admin_token, params={"limit": 7}).json()["items"]
    assert json.loads(signed_in.run("transactions", "--format", "json", "--limit", "7").stdout) == newest
    assert json.loads(signed_in.run("transactions", "--format", "json", "--search", "zzzz-nothing").stdout) == []


def test_transactions_since_30_days(signed_in, admin_token, raw):
    started = datetime.now(timezone.utc)
    result = signed_in.run("transactions", "--since", "30d", "--format", "json")
    assert result.code == 0, result.stderr
    items = json.loads(result.stdout)
    oldest_allowed = started - timedelta(days=30, minutes=1)
    assert items and all(datetime.fromisoformat(i["created_at"]) >= oldest_allowed for i in items)
    assert len(items) < raw.count(admin_token)  # the seed spans 13 months


def test_transactions_as_a_table(signed_in, admin_token, raw):
    result = signed_in.run("transactions", "--limit", "3")
    assert result.code == 0, result.stderr
    assert "Amount" in result.stdout and "Balance" in result.stdout
    newest = raw.get("/credits/transactions", admin_token, params={"limit": 3}).json()["items"]
    for item in newest:
        assert credits_text(Decimal(item["balance_after"])) in result.stdout


def test_a_narrow_terminal_wraps_the_text_and_never_cuts_a_figure(signed_in, admin_token, raw):
    assert signed_in.run("buy", "10000", "--yes").code == 0  # the widest figures: +10,000.00 and its balance
    result = signed_in.run("transactions", "--limit", "20", env={"COLUMNS": "80"})
    assert result.code == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    for item in raw.get("/credits/transactions", admin_token, params={"limit": 20}).json()["items"]:
        amount = Decimal(item["amount"])
        assert credits_text(amount, signed=True) in result.stdout
        assert credits_text(Decimal(item["balance_after"])) in result.stdout


@pytest.mark.parametrize(("args", "code"), [
    (["--type", "bogus"], 2),
    (["--since", "yesterday"], 2),
    (["--format", "xml"], 2),
    (["--format", "csv", "--limit", "5"], 2),
    (["--search", ""], 2),
    (["--user", "nobody@x"], 1),
    (["--user", "nobody@x", "--format", "json"], 1),
    (["--search", "!!!", "--format", "json"], 1),
])
def test_transactions_refuse_bad_options(signed_in, admin_token, args, code):
    result = signed_in.run("transactions", *args)
    assert result.code == code, result.stderr
    assert result.stdout == ""  # nothing that looks like an answer, not even the start of a JSON array
    if code == 1:
        assert ("user" if "--user" in args else "letter or digit") in result.one_line_error().lower()
    if code == 2 and "--search" in args:  # the option as it is spelled, not the wire's "q"
        assert "--search:" in result.one_line_error()


# --- tokens from the environment, unreachable servers ------------------------------------------------


def test_a_bad_environment_token_fails_in_one_line(cli):
    token = "tok-bogus-0123456789abcdef"
    result = cli.run("balance", env={"CREDITS_TUI_SERVER": cli.server, "CREDITS_TUI_TOKEN": token})
    assert result.code == 1
    assert "CREDITS_TUI_TOKEN" in result.one_line_error()


@pytest.mark.parametrize("token", ["tök€n-0123456789", "two words", "line\nbreak", "tab\tbed"])
def test_an_environment_token_no_server_issues_is_a_usage_error(cli, token):
    """Refused before any request: in a header it failed with a traceback, or echoed the token."""
    for command in (["balance"], ["balance", "--json"], ["transactions", "--limit", "1"]):
        result = cli.run(*command, env={"CREDITS_TUI_SERVER": cli.server, "CREDITS_TUI_TOKEN": token})
        assert result.code == 2, (command, result.stderr)
        assert "CREDITS_TUI_TOKEN does not hold a token" in result.one_line_error()
        assert result.stdout == ""


@pytest.mark.parametrize(("email", "password"), [("a" * 300 + "@example.com", "secret"),
                                                  ("admin@demo.example", "p" * 1025)])
def test_an_email_or_password_no_account_can_have_is_refused_in_one_line(cli, email, password):
    result = cli.run("login", "--server", cli.server, "--email", email, "--password-stdin", input=password)
    assert result.code == 2, result.stderr
    assert "at most" in result.one_line_error()
    assert result.stdout == ""


def test_an_unreachable_server_fails_in_one_line(cli):
    port = closed_port()
    result = cli.run("balance", "--json", env={"CREDITS_TUI_SERVER": f"http://127.0.0.1:{port}",
                                               "CREDITS_TUI_TOKEN": "tok-unused-0123456789"})
    assert result.code == 1
    assert str(port) in result.one_line_error()
    assert result.stdout == ""
    assert result.seconds < 15


def test_a_stored_token_is_not_sent_to_another_server(signed_in, admin_token):
    with RawServer(lambda conn, server: server.read(conn)) as elsewhere:
        result = signed_in.run("balance", env={"CREDITS_TUI_SERVER": elsewhere.url})
        assert result.code == 2 and "login" in result.stderr
        assert elsewhere.connections == 0


# --- logout, and a token the server no longer accepts ----------------------------------------------


def test_logout_revokes_the_token_and_forgets_it(cli, raw):
    token = cli.login(SUPPORT)
    assert raw.get("/me", token).status_code == 200
    result = cli.run("logout")
    assert result.code == 0, result.stderr
    assert raw.get("/me", token).status_code == 401
    assert cli.keyring.get(cli.server, SUPPORT) is None
    after = cli.run("balance")
    assert after.code == 2 and "login" in after.stderr
    again = cli.run("logout")
    assert again.code == 0 and "Not signed in" in again.stderr


def test_logout_forgets_the_token_even_when_the_server_is_away(cli):
    away = f"http://127.0.0.1:{closed_port()}"
    token = "tok-stored-0123456789abcdef"
    save_config(Config(profiles={"default": Profile(server=away, email=ADMIN)}),
                cli.dirs[1] / "credits-tui" / "config.toml")
    cli.keyring.set(away, ADMIN, token)
    cli.secrets.append(token)
    result = cli.run("logout")
    assert result.code == 1
    assert "could not revoke" in result.one_line_error()
    assert cli.keyring.get(away, ADMIN) is None


def test_a_rejected_stored_token_is_deleted(cli, raw):
    token = cli.login(SUPPORT)
    assert raw.request("DELETE", "/auth/tokens/current", token).status_code == 204
    result = cli.run("balance")
    assert result.code == 1
    assert "login" in result.one_line_error()
    assert cli.keyring.get(cli.server, SUPPORT) is None
    next_time = cli.run("balance")
    assert next_time.code == 2 and "login" in next_time.stderr
