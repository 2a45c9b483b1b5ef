"""Ask where to save a file (the CSV export, a receipt's PDF): a name, checked before anything is written."""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static


def default_export_path(today: date | None = None, *, home: Path | None = None, cwd: Path | None = None,
                        name: str | None = None) -> Path:
    """``~/transactions-YYYYMMDD.csv`` (or ``~/name``), in the current folder when home is not writable."""
    name = name or f"transactions-{(today or date.today()):%Y%m%d}.csv"
    home = home if home is not None else Path.home()
    if home.is_dir() and os.access(home, os.W_OK):
        return home / name
    return (cwd or Path.cwd()) / name


def check_export_path(text: str, *, cwd: Path | None = None, example: str = "transactions.csv") -> Path:
    """The file to write, or ValueError saying (for a person) why it cannot be."""
    text = text.strip()
    if not text:
        raise ValueError("Enter a file name.")
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = (cwd or Path.cwd()) / path
    if path.is_dir():
        raise ValueError(f"{path} is a folder: add a file name such as {example}.")
    if not path.parent.is_dir():
        raise ValueError(f"The folder {path.parent} does not exist.")
    # Tried, not inferred from permissions: root may write anywhere by them, yet not into /proc.
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".credits-tui-"):
            pass
    except OSError as error:
        raise ValueError(f"The folder {path.parent} cannot be written to ({error.strerror or error}).") from None
    return path


class ExportCsv(ModalScreen[Path | None]):
    """Dismissed with the path to write, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    ExportCsv { align: center middle; }
    ExportCsv > Vertical {
        width: 76; max-width: 95%; height: auto;
        border: round $primary; background: $surface; padding: 0 1;
    }
    ExportCsv #export-what { color: $text-muted; margin-bottom: 1; }
    ExportCsv #export-message { color: $error; height: auto; }
    ExportCsv #export-message.-warning { color: $warning; }
    ExportCsv #export-buttons { height: auto; margin-top: 1; align-horizontal: right; }
    ExportCsv Button { margin-left: 1; }
    """

    def __init__(self, default: Path, description: str, *, title: str = "Export CSV", verb: str = "Export") -> None:
        super().__init__()
        self.default = default
        self.description = description
        self.heading = title  # not ``title``: a screen's title is the header's
        self.verb = verb
        self._confirmed_overwrite: Path | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.heading, classes="title", markup=False)
            yield Static(self.description, id="export-what", markup=False)
            yield Input(str(self.default), id="export-path", placeholder=f"File name, e.g. ~/{self.default.name}")
            yield Static("", id="export-message", markup=False)
            with Horizontal(id="export-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button(self.verb, id="export", variant="primary")
            yield Static(f"Enter {self.verb.lower()}s · Escape cancels", classes="hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).focus()

    def _say(self, message: str, *, warning: bool = False) -> None:
        label = self.query_one("#export-message", Static)
        label.update(message)
        label.set_class(warning, "-warning")

    @on(Input.Changed, "#export-path")
    def _typed(self) -> None:
        self._confirmed_overwrite = None
        self._say("")

    @on(Input.Submitted, "#export-path")
    @on(Button.Pressed, "#export")
    def _submit(self) -> None:
        try:
            path = check_export_path(self.query_one("#export-path", Input).value, example=self.default.name)
        except ValueError as error:
            self._say(str(error))
            return
        if path.exists() and self._confirmed_overwrite != path:
            self._confirmed_overwrite = path
            self._say(f"{path} already exists. Press Enter again to replace it.", warning=True)
            return
        self.dismiss(path)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
