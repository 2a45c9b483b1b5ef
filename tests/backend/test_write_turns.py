"""SQLite has one writer at a time: a server's worker processes queue for it at a file lock
beside the database, so that a waiting writer starts the moment the one before it is done."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import text

from credits_tui.backend.db.engine import Database

# Another process's write: it says when it is about to ask for its turn, and when it has written.
OTHER_WORKER = """
import sys
from pathlib import Path
from sqlalchemy import text
from credits_tui.backend.db.engine import Database
url, folder = sys.argv[1], Path(sys.argv[2])
database = Database(url)
(folder / "asking").touch()
with database.write() as session:
    session.execute(text("INSERT INTO writes VALUES ('other')"))
(folder / "written").touch()
database.dispose()
"""


def wait_for_file(path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.01)


def test_another_process_writes_only_once_this_ones_turn_is_over(tmp_path):
    url = f"sqlite:///{tmp_path / 'turns.db'}"
    database = Database(url)
    try:
        with database.write() as session:
            session.execute(text("CREATE TABLE writes (who TEXT)"))
        other = subprocess.Popen([sys.executable, "-c", OTHER_WORKER, url, str(tmp_path)])
        try:
            # This process's turn, before any statement: SQLite's own lock is not taken yet, so
            # only the turn can keep the other process waiting.
            with database.write() as session:
                wait_for_file(tmp_path / "asking")
                time.sleep(0.3)  # without the turn, the other process writes within milliseconds
                assert not (tmp_path / "written").exists()
                session.execute(text("INSERT INTO writes VALUES ('this')"))
            assert other.wait(timeout=30) == 0
        finally:
            other.kill()
        with database.read() as session:
            assert session.scalars(text("SELECT who FROM writes")).all() == ["this", "other"]
    finally:
        database.dispose()
