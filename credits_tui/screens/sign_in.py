"""Sign-in: server URL, email, password. The token goes to the app, never to a file."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Center, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Input, Label, LoadingIndicator, Static

from credits_tui.api_client import errors
from credits_tui.api_client.client import CreditsClient, normalise_server
from credits_tui.api_client.models import Me
from credits_tui.widgets.keys_footer import KeysFooter


class SignedIn(Message):
    """A good sign-in: the app keeps the token and shows the sections."""

    def __init__(self, server: str, token: str, me: Me) -> None:
        super().__init__()
        self.server = server
        self.token = token
        self.me = me


def server_address(typed: str) -> str:
    """What a person types as the server, as a URL: ``localhost:1`` means ``http://localhost:1``."""
    text = typed.strip()
    return text if not text or "://" in text else f"http://{text}"


class SignInScreen(Screen[None]):
    """Escape only leaves a field here (ctrl+q quits): a stray Escape must not end the app."""

    CSS_PATH = "sign_in.tcss"

    def __init__(self, server: str | None = None, email: str | None = None, *, notice: str | None = None) -> None:
        super().__init__()
        self._server = server
        self._email = email
        self._notice = notice

    def compose(self) -> ComposeResult:
        with Center(), Vertical(id="sign-in"):
            yield Static("Purchase Credits", id="sign-in-title")
            yield Static(self._notice or "Sign in with your Lead Liaison account.", id="notice", markup=False)
            yield Label("Server")
            yield Input(self._server or "", placeholder="https://credits.example.com", id="server")
            yield Label("Email")
            yield Input(self._email or "", placeholder="you@company.com", id="email")
            yield Label("Password")
            yield Input(placeholder="password", password=True, id="password")
            yield Static("", id="problem", markup=False)
            yield Button("Sign in", variant="primary", id="submit")
            yield LoadingIndicator(id="busy")
        yield KeysFooter()

    def show_notice(self, notice: str) -> None:
        self.query_one("#notice", Static).update(notice)

    def on_mount(self) -> None:
        first_empty = next((i for i in self.query(Input) if not i.value), self.query_one("#password", Input))
        first_empty.focus()

    @on(Input.Submitted)
    def _next_or_submit(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        empty = [i for i in inputs if not i.value]
        if empty:
            empty[0].focus()
        else:
            self.submit()

    @on(Button.Pressed, "#submit")
    def _pressed(self) -> None:
        self.submit()

    def submit(self) -> None:
        if self.query_one("#busy").display:
            return  # already signing in: Enter twice sends one request
        server = self.query_one("#server", Input).value.strip()
        email = self.query_one("#email", Input).value.strip()
        password = self.query_one("#password", Input).value
        for field, value, what in (("server", server, "the server address"), ("email", email, "your email"),
                                   ("password", password, "your password")):
            if not value:
                self._problem(f"Enter {what}.", field)
                return
        try:
            server = normalise_server(server_address(server))
        except errors.ValidationError as error:
            self._problem(error.message, "server")
            return
        self._busy(True)
        self.sign_in(server, email, password)

    @work(exclusive=True, group="sign-in", exit_on_error=False)
    async def sign_in(self, server: str, email: str, password: str) -> None:
        try:
            async with CreditsClient(server, transport=self.app.connection.transport) as client:  # type: ignore[attr-defined]
                answer = await client.sign_in(email, password)
        except errors.ApiError as error:
            self._busy(False)
            self._problem(error.message, "password" if isinstance(error, errors.AuthenticationError) else None)
            return
        self.post_message(SignedIn(server, answer.token, answer.user))

    def _busy(self, busy: bool) -> None:
        self.query_one("#busy").display = busy
        self.query_one("#submit", Button).disabled = busy

    def _problem(self, message: str, field: str | None) -> None:
        problem = self.query_one("#problem", Static)
        problem.update(message)
        problem.display = bool(message)
        for widget in self.query(Input):
            widget.set_class(widget.id == field, "-invalid")
        if field:
            self.query_one(f"#{field}", Input).focus()
