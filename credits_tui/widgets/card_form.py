"""The card form: cardholder, number, expiry, CVC and billing address, each field checked
before anything is sent, with its message right under it.

The checks are the server's own rules (Luhn and 12–19 digits, expiry not in the past, CVC of
3–4 digits, required fields, a 2-letter country), so a person learns about a typo at once;
the server still has the last word (``show_error`` puts its message under the field it names).

The full number is only ever in its Input while the person types it: nothing here echoes it
back, logs it or keeps it elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Input, Label, Static

from credits_tui.api_client.card_rules import CARD_NUMBER_SEPARATORS, luhn_ok
from credits_tui.api_client.models import (
    BillingAddress,
    CardInput,
    CardPatch,
    CardSummary,
)

_COUNTRY = re.compile(r"^[A-Za-z]{2}$")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    placeholder: str = ""
    required: bool = True
    max_length: int = 0
    restrict: str | None = None
    password: bool = False
    short: bool = False  # a narrow input (month, year, CVC, country)


NAME = FieldSpec("cardholder_name", "Name on card", "as printed on the card", max_length=200)
NUMBER = FieldSpec("number", "Card number", "1234 5678 9012 3456", max_length=40, restrict=r"[0-9 \-]*")
EXP_MONTH = FieldSpec("exp_month", "Expiry month", "MM", max_length=2, restrict=r"[0-9]*", short=True)
EXP_YEAR = FieldSpec("exp_year", "Expiry year", "YYYY", max_length=4, restrict=r"[0-9]*", short=True)
CVC = FieldSpec("cvc", "CVC", "123", max_length=4, restrict=r"[0-9]*", password=True, short=True)
LINE1 = FieldSpec("line1", "Address", "street and number", max_length=200)
LINE2 = FieldSpec("line2", "Address line 2", "optional", required=False, max_length=200)
CITY = FieldSpec("city", "City", max_length=100)
REGION = FieldSpec("region", "State / region", "optional", required=False, max_length=100)
POSTAL_CODE = FieldSpec("postal_code", "Postal code", max_length=20)
COUNTRY = FieldSpec("country", "Country", "US", max_length=20, short=True)

CARD_FIELDS = (NAME, NUMBER, EXP_MONTH, EXP_YEAR, CVC)
ADDRESS_FIELDS = (LINE1, LINE2, CITY, REGION, POSTAL_CODE, COUNTRY)
SPECS = {spec.name: spec for spec in CARD_FIELDS + ADDRESS_FIELDS}
ADDRESS_NAMES = tuple(spec.name for spec in ADDRESS_FIELDS)

REQUIRED_MESSAGES = {
    "cardholder_name": "Enter the name as it is printed on the card.",
    "number": "Enter the card number.",
    "exp_month": "Enter the expiry month (1 to 12).",
    "exp_year": "Enter the expiry year, such as 2030.",
    "cvc": "Enter the CVC: the 3 or 4 digits on the card.",
    "line1": "Enter the street address.",
    "city": "Enter the city.",
    "postal_code": "Enter the postal code.",
    "country": "Enter the 2-letter country code, such as US.",
}

# --- the checks (pure functions: each returns a message for a person, or None) ----------------


def check_number(text: str) -> str | None:
    digits = CARD_NUMBER_SEPARATORS.sub("", text.strip())
    if not digits:
        return REQUIRED_MESSAGES["number"]
    if not (digits.isascii() and digits.isdigit()):
        return "The card number may only contain digits, spaces and dashes."
    if not 12 <= len(digits) <= 19:
        return f"A card number has 12 to 19 digits; this one has {len(digits)}."
    if not luhn_ok(digits):
        return "This card number is not valid: check it for typos."
    return None


def parse_month(text: str) -> int | None:
    text = text.strip()
    if text.isascii() and text.isdigit() and 1 <= int(text) <= 12:
        return int(text)
    return None


def parse_year(text: str) -> int | None:
    text = text.strip()
    if len(text) == 4 and text.isascii() and text.isdigit() and 2000 <= int(text) <= 2100:
        return int(text)
    return None


def check_expiry(month_text: str, year_text: str, now: datetime) -> dict[str, str]:
    """Messages for ``exp_month`` / ``exp_year``: each a number in range, together not past."""
    problems: dict[str, str] = {}
    month, year = parse_month(month_text), parse_year(year_text)
    if not month_text.strip():
        problems["exp_month"] = REQUIRED_MESSAGES["exp_month"]
    elif month is None:
        problems["exp_month"] = "The expiry month is a number from 1 to 12."
    if not year_text.strip():
        problems["exp_year"] = REQUIRED_MESSAGES["exp_year"]
    elif year is None:
        problems["exp_year"] = "Enter the expiry year with 4 digits, such as 2030."
    if month is not None and year is not None and (year, month) < (now.year, now.month):
        # A card is good through the last day of its expiry month (the server's rule).
        problems["exp_year" if year < now.year else "exp_month"] = (
            "This card has expired: check the expiry month and year.")
    return problems


def check_cvc(text: str) -> str | None:
    text = text.strip()
    if not text:
        return REQUIRED_MESSAGES["cvc"]
    if not (text.isascii() and text.isdigit() and 3 <= len(text) <= 4):
        return "The CVC has 3 or 4 digits."
    return None


def check_country(text: str) -> str | None:
    text = text.strip()
    if not text:
        return REQUIRED_MESSAGES["country"]
    if not _COUNTRY.match(text):
        return "Use the 2-letter country code, such as US, GB or DE."
    return None


def check_values(values: dict[str, str], *, ask_number: bool, now: datetime | None = None) -> dict[str, str]:
    """Every problem of a filled-in form, by field name (empty when it may be sent)."""
    now = now or datetime.now(timezone.utc)
    problems: dict[str, str] = {}
    for spec in CARD_FIELDS + ADDRESS_FIELDS:
        if spec.name in ("number", "cvc") and not ask_number:
            continue
        value = values.get(spec.name, "").strip()
        if spec.required and not value:
            problems[spec.name] = REQUIRED_MESSAGES[spec.name]
        elif spec.max_length and len(value) > spec.max_length:
            problems[spec.name] = f"At most {spec.max_length} characters."
    if ask_number:
        if message := check_number(values.get("number", "")):
            problems["number"] = message
        if message := check_cvc(values.get("cvc", "")):
            problems["cvc"] = message
    problems.update(check_expiry(values.get("exp_month", ""), values.get("exp_year", ""), now))
    if message := check_country(values.get("country", "")):
        problems["country"] = message
    order = [spec.name for spec in CARD_FIELDS + ADDRESS_FIELDS]
    return {name: problems[name] for name in order if name in problems}


def form_field(server_field: str | None) -> str | None:
    """The form field a server error names (``billing_address.city`` is ``city``)."""
    if not server_field:
        return None
    name = server_field.rsplit(".", 1)[-1]
    return name if name in SPECS else None


def _optional(text: str) -> str | None:
    return text.strip() or None


# --- the widget ---------------------------------------------------------------------------------


class CardForm(Widget, can_focus=False):
    """The fields of a card, with a message under each bad one.

    ``ask_number`` adds the number and CVC (adding or replacing a card); editing leaves them
    out: the card on file keeps its number. ``card`` pre-fills the name, expiry and address.
    """

    DEFAULT_CSS = """
    CardForm { height: auto; }
    CardForm .cf-section { color: $text-muted; text-style: bold; margin-top: 1; }
    CardForm .cf-row { height: 1; margin-top: 1; }
    CardForm.-dense .cf-row { margin-top: 0; }
    CardForm .cf-row > Label { width: 17; color: $text-muted; }
    CardForm .cf-row:focus-within > Label { color: $accent; text-style: bold; }
    CardForm .cf-row > Input { width: 1fr; background: $boost; }
    CardForm .cf-row > Input.-short { width: 8; }
    CardForm .cf-row > Input:focus { background-tint: $accent 20%; }
    CardForm .cf-row > Input.-invalid { background-tint: $error 30%; }
    CardForm .cf-row > .cf-sep { width: 3; content-align: center middle; color: $text-muted; }
    CardForm .cf-row > .cf-hint { width: 1fr; color: $text-muted; padding-left: 2; }
    CardForm .cf-error { display: none; height: auto; color: $error; padding-left: 17; }
    CardForm .cf-error.-visible { display: block; }
    """

    def __init__(self, *, ask_number: bool, card: CardSummary | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.ask_number = ask_number
        self.card = card

    # --- composition ------------------------------------------------------------------------

    def _input(self, spec: FieldSpec) -> Input:
        return Input(self._initial(spec.name), placeholder=spec.placeholder, id=f"cf-{spec.name}", compact=True,
                     max_length=spec.max_length, restrict=spec.restrict, password=spec.password,
                     classes="-short" if spec.short else "", select_on_focus=False)

    def _error(self, name: str) -> Static:
        return Static("", id=f"cf-error-{name}", classes="cf-error", markup=False)

    def _initial(self, name: str) -> str:
        card = self.card
        if card is None:
            return ""
        address = card.billing_address
        return {
            "cardholder_name": card.cardholder_name,
            # A replacement is a new card: its expiry is asked afresh, like its number.
            "exp_month": "" if self.ask_number else f"{card.exp_month:02d}",
            "exp_year": "" if self.ask_number else str(card.exp_year),
            "line1": address.line1, "line2": address.line2 or "", "city": address.city,
            "region": address.region or "", "postal_code": address.postal_code, "country": address.country,
        }.get(name, "")

    def _row(self, spec: FieldSpec, hint: str = "") -> ComposeResult:
        with Horizontal(classes="cf-row", id=f"cf-row-{spec.name}"):
            yield Label(spec.label)
            yield self._input(spec)
            if hint:
                yield Static(hint, classes="cf-hint")
        yield self._error(spec.name)

    def compose(self) -> ComposeResult:
        yield from self._row(NAME)
        if self.ask_number:
            yield from self._row(NUMBER)
        with Horizontal(classes="cf-row", id="cf-row-expiry"):
            yield Label("Expires MM/YYYY")
            yield self._input(EXP_MONTH)
            yield Static("/", classes="cf-sep")
            yield self._input(EXP_YEAR)
        yield self._error("exp_month")
        yield self._error("exp_year")
        if self.ask_number:
            yield from self._row(CVC, "3 or 4 digits, on the back of most cards")
        yield Static("Billing address", classes="cf-section")
        for spec in ADDRESS_FIELDS:
            yield from self._row(spec, "2-letter code" if spec is COUNTRY else "")

    # --- values -------------------------------------------------------------------------------

    @property
    def field_names(self) -> list[str]:
        return [spec.name for spec in CARD_FIELDS + ADDRESS_FIELDS
                if self.ask_number or spec.name not in ("number", "cvc")]

    @staticmethod
    def name_of(widget: Input) -> str:
        """The field name of one of the form's inputs."""
        return (widget.id or "").removeprefix("cf-")

    def input(self, name: str) -> Input:
        return self.query_one(f"#cf-{name}", Input)

    def values(self) -> dict[str, str]:
        return {name: self.input(name).value for name in self.field_names}

    def billing_address(self) -> BillingAddress:
        v = self.values()
        return BillingAddress(line1=v["line1"].strip(), line2=_optional(v["line2"]), city=v["city"].strip(),
                              region=_optional(v["region"]), postal_code=v["postal_code"].strip(),
                              country=v["country"].strip().upper())

    def card_input(self) -> CardInput:
        """The new card (call ``validate`` first)."""
        v = self.values()
        return CardInput(cardholder_name=v["cardholder_name"].strip(), number=v["number"].strip(),
                         exp_month=int(v["exp_month"]), exp_year=int(v["exp_year"]), cvc=v["cvc"].strip(),
                         billing_address=self.billing_address())

    def card_patch(self, original: CardSummary) -> CardPatch:
        """Only what differs from ``original`` (call ``validate`` first); may be empty."""
        v = self.values()
        changes: dict[str, object] = {}
        name = v["cardholder_name"].strip()
        if name != original.cardholder_name:
            changes["cardholder_name"] = name
        month, year = int(v["exp_month"]), int(v["exp_year"])
        if month != original.exp_month:
            changes["exp_month"] = month
        if year != original.exp_year:
            changes["exp_year"] = year
        address = self.billing_address()
        before = original.billing_address
        before_fields = {"line1": before.line1, "line2": before.line2 or None, "city": before.city,
                         "region": before.region or None, "postal_code": before.postal_code,
                         "country": before.country.upper()}
        if address.model_dump() != before_fields:
            changes["billing_address"] = address
        return CardPatch.model_validate(changes)

    # --- messages under the fields --------------------------------------------------------------

    def validate(self, *, now: datetime | None = None, focus: bool = True) -> dict[str, str]:
        """Check every field; show each problem under its field; focus the first bad one."""
        problems = check_values(self.values(), ask_number=self.ask_number, now=now)
        for name in self.field_names:
            self._set_error(name, problems.get(name))
        if problems and focus:
            self.input(next(iter(problems))).focus()
        return problems

    def show_error(self, name: str, message: str, *, focus: bool = True) -> None:
        """Show a message under ``name`` (for instance the server's, for the field it named)."""
        self._set_error(name, message)
        if focus:
            self.input(name).focus()

    def clear_errors(self) -> None:
        for name in self.field_names:
            self._set_error(name, None)

    def error_of(self, name: str) -> str | None:
        error = self.query_one(f"#cf-error-{name}", Static)
        return str(error.content) if error.has_class("-visible") else None

    @property
    def errors(self) -> dict[str, str]:
        return {name: message for name in self.field_names if (message := self.error_of(name))}

    def _set_error(self, name: str, message: str | None) -> None:
        error = self.query_one(f"#cf-error-{name}", Static)
        error.update(message or "")
        error.set_class(bool(message), "-visible")
        self.input(name).set_class(bool(message), "-invalid")

    def on_input_changed(self, event: Input.Changed) -> None:
        """A field showing a message is checked again as it is corrected (never before)."""
        name = self.name_of(event.input)
        related = ("exp_month", "exp_year") if name in ("exp_month", "exp_year") else (name,)
        if not any(self.error_of(n) for n in related):
            return
        problems = check_values(self.values(), ask_number=self.ask_number)
        for n in related:
            if self.error_of(n):
                self._set_error(n, problems.get(n))

    def first_empty_required(self) -> Input | None:
        for name in self.field_names:
            if SPECS[name].required and not self.input(name).value.strip():
                return self.input(name)
        return None


__all__ = [
    "CardForm",
    "check_country",
    "check_cvc",
    "check_expiry",
    "check_number",
    "check_values",
    "form_field",
    "luhn_ok",
]
