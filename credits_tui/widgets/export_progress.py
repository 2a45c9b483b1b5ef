"""The CSV export under way: where it goes, how many rows so far; hidden when none runs.

The widget streams the server's CSV into a file itself (via a ``.part`` file: a failure
leaves nothing behind) and says how it ended in a notification; a lost sign-in is posted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterable
from pathlib import Path
from typing import IO

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static

from credits_tui.api_client import errors
from credits_tui.messages import SessionExpired

TITLE = "Export CSV"


def count_csv_records(chunk: bytes, in_quotes: bool) -> tuple[int, bool]:
    """Record ends (newlines outside quoted fields) in ``chunk``, and the quoting state after it.

    CSV escapes a quote inside a quoted field by doubling it, so the parity of the quotes seen
    so far tells whether a newline ends a record or belongs to a field.
    """
    records = 0
    for index, part in enumerate(chunk.split(b'"')):
        if index:
            in_quotes = not in_quotes
        if not in_quotes:
            records += part.count(b"\n")
    return records, in_quotes


class ExportProgress(Horizontal):
    """``exporting`` while a file is written; ``last_export`` is where the last one went, and its rows."""

    DEFAULT_CSS = """
    ExportProgress {
        display: none;
        height: 1;
        &.-visible { display: block; }
        & > #export-label { width: 1fr; }
        & > #export-progress { width: auto; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.exporting = False
        self.last_export: tuple[Path, int] | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="export-label", markup=False)
        yield ProgressBar(id="export-progress", show_eta=False)

    def _show(self, label: str | None, *, progress: int = 0, total: int | None = None) -> None:
        self.set_class(label is not None, "-visible")
        if label is not None:
            self.query_one("#export-label", Static).update(label)
            self.query_one("#export-progress", ProgressBar).update(total=total, progress=progress)

    @work(exclusive=True, group="export", exit_on_error=False)
    async def export(self, chunks: AsyncIterable[bytes], path: Path, expected: int | None = None) -> None:
        """Write ``chunks`` (the server's CSV, header first) to ``path``; ``expected`` rows, if known."""
        self.exporting = True
        part = path.with_name(path.name + ".part")
        rows, in_quotes = 0, False
        self._show(f"Exporting to {path}…", total=expected)
        handle: IO[bytes] | None = None
        try:
            handle = await asyncio.to_thread(open, part, "wb")
            async for chunk in chunks:
                await asyncio.to_thread(handle.write, chunk)
                ends, in_quotes = count_csv_records(chunk, in_quotes)
                rows += ends
                shown = max(rows - 1, 0)  # the first line is the header
                self._show(f"Exporting to {path}… {shown:,} rows", progress=shown, total=expected)
            await asyncio.to_thread(handle.close)
            handle = None
            await asyncio.to_thread(os.replace, part, path)
        except errors.AuthenticationError:
            await _discard(handle, part)
            self.post_message(SessionExpired())
        except errors.ApiError as error:
            await _discard(handle, part)
            self.notify(f"The export failed: {error.message}", title=TITLE, severity="error", timeout=10,
                        markup=False)
        except OSError as error:
            await _discard(handle, part)
            reason = error.strerror or str(error)
            self.notify(f"Could not write {path}: {reason}.", title=TITLE, severity="error", timeout=10,
                        markup=False)
        except BaseException:  # cancelled (the app is closing): leave no partial file behind
            await _discard(handle, part)
            raise
        else:
            data_rows = max(rows - 1, 0)  # the first line is the header
            self.last_export = (path, data_rows)
            self.notify(f"{data_rows:,} transactions saved to {path}", title=TITLE, timeout=10, markup=False)
        finally:
            self.exporting = False
            self._show(None)


async def _discard(handle: IO[bytes] | None, part: Path) -> None:
    def discard() -> None:
        if handle is not None:
            handle.close()
        part.unlink(missing_ok=True)

    with contextlib.suppress(OSError):  # nothing more to be done about it
        await asyncio.to_thread(discard)


__all__ = ["ExportProgress", "count_csv_records"]
