"""App fixtures: the real backend in-process (httpx's ASGI transport, a real SQLite file).

Migrating and seeding take most of a test's time, so they run once per clock: the seeded
file is a session-wide template and each test gets its own copy of it.

``make_app(email)`` gives a ``CreditsApp`` already signed in as ``email`` (the token comes
from the real ``POST /auth/tokens``); ``make_app(None)`` starts at the sign-in screen;
``make_app(section="manage")`` opens at that section rather than Status, for the tests that
are about the section and not the way there (tests/app/test_keys_and_tabs.py is about that).
Tokens go to an in-memory keyring, config to a temporary directory.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from rich.console import RenderableType
from textual._compositor import Compositor
from textual.css.model import RuleSet
from textual.css.stylesheet import Stylesheet
from textual.pilot import Pilot
from textual.screen import Screen

from credits_tui.app import Connection, CreditsApp
from credits_tui.auth.tokens import TokenStore
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.migrate import upgrade
from credits_tui.backend.demo import DEMO_PASSWORD, seed_demo
from tests.support.backend import cheap_password_hash, into_wal_mode, out_of_wal_mode
from tests.support.memory_keyring import MemoryKeyring
from tests.support.pilot import SERVER


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path, monkeypatch) -> None:
    """Config and data go to a temporary home; animations off for steady tests."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    monkeypatch.delenv("CREDITS_TUI_TOKEN", raising=False)
    monkeypatch.delenv("CREDITS_TUI_SERVER", raising=False)


@pytest.fixture(scope="session", autouse=True)
def _css_parsed_once_per_worker() -> Iterator[None]:
    """Parse each piece of the app's CSS once per test process, not once per test.

    Textual parses every CSS source afresh for each new app, and again whenever a section is
    first shown (``Stylesheet.reparse`` starts from an empty cache): about a sixth of an app
    test's CPU. The rules a source parses to depend on nothing but the arguments below and the
    theme's variables, and Textual already shares them between the parses of one app, so
    sharing them between the apps of one process changes nothing a test can see.
    """
    parse_afresh = Stylesheet._parse_rules
    parsed: dict[tuple[object, ...], list[RuleSet]] = {}

    def parse_rules(self: Stylesheet, css: str, read_from: tuple[str, str], is_default_rules: bool = False,
                    tie_breaker: int = 0, scope: str = "") -> list[RuleSet]:
        key = (css, read_from, is_default_rules, tie_breaker, scope, tuple(self._variables.items()))
        if key not in parsed:
            parsed[key] = parse_afresh(self, css, read_from, is_default_rules, tie_breaker, scope)
        return parsed[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Stylesheet, "_parse_rules", parse_rules)
        yield


@pytest.fixture(scope="session", autouse=True)
def _painted_when_the_test_looks() -> Iterator[None]:
    """Paint the screen when a test looks at it (each ``pilot.pause``, which ``wait_for`` ends
    with), not at every frame in between.

    Headless, Textual draws every changed frame, up to 60 a second, and throws the drawing away:
    most of those frames no assertion ever looked at (test_manage.py and test_billing.py, run
    alone: 82–91 CPU-s drawing every frame, 75 drawing at each look, 59 drawing nothing). Between
    looks the changed regions add up; the look draws them all, through the widgets' own
    rendering, so a widget that fails to draw still fails its test. Layout is untouched (clicks
    land where the widgets are), and screenshots (snapshots) draw the whole screen as before.
    Textual is pinned for the tests (pyproject.toml), so the two private names used are too.
    """
    draw_update = Compositor.render_update
    pause = Pilot.pause
    drawing = False

    def render_update(self: Compositor, full: bool = False, screen_stack: list[Screen] | None = None,
                      simplify: bool = False) -> RenderableType | None:
        if full or drawing:
            return draw_update(self, full, screen_stack, simplify)
        return None  # the dirty regions stay, for the next look

    async def pause_and_look(self: Pilot, delay: float | None = None) -> None:
        nonlocal drawing
        await pause(self, delay)
        drawing = True
        try:
            self.app.screen._compositor_refresh()
        finally:
            drawing = False

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Compositor, "render_update", render_update)
        patch.setattr(Pilot, "pause", pause_and_look)
        yield


@pytest.fixture
def clock() -> Iterator[datetime | None]:
    """The real clock (None); snapshot tests override this to freeze time and yield that time."""
    yield None


@pytest.fixture(scope="session")
def seeded_templates(tmp_path_factory) -> Callable[[datetime | None], Path]:
    """A migrated, seeded database file per clock (the real one, or a frozen time), made once."""
    made: dict[datetime | None, Path] = {}

    def template(frozen_at: datetime | None) -> Path:
        if frozen_at not in made:
            path = tmp_path_factory.mktemp("seeded") / "credits.db"
            database = Database(f"sqlite:///{path}")
            upgrade(database)
            seed_demo(database, Settings(database_url=f"sqlite:///{path}"), transactions=300,
                      password_hash=cheap_password_hash())
            database.dispose()
            out_of_wal_mode(path)
            made[frozen_at] = path
        return made[frozen_at]

    return template


@pytest.fixture
def backend(clock, seeded_templates, _one_app, tmp_path) -> Iterator[FastAPI]:
    """The reference backend (the test process's one app, tests/conftest.py) on a seeded SQLite
    file of the test's own: Demo Co. with 300 transactions."""
    path = tmp_path / "credits.db"
    shutil.copyfile(seeded_templates(clock), path)
    into_wal_mode(path)
    url = f"sqlite:///{path}"
    database = Database(url)
    yield _one_app.bound(Settings(database_url=url), database)
    database.dispose()


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def make_app(backend, memory_keyring) -> Iterator[Callable[..., CreditsApp]]:
    def make(email: str | None = "admin@demo.example", *, remember_token: bool = False,
             section: str = "status") -> CreditsApp:
        token = None
        if email is not None:
            with TestClient(backend) as client:
                response = client.post("/api/v1/auth/tokens", json={"email": email, "password": DEMO_PASSWORD})
                assert response.status_code == 201, response.text
                token = response.json()["token"]
        connection = Connection(server=SERVER, email=email, token=token, remember_token=remember_token,
                                transport=httpx.ASGITransport(app=backend))
        return CreditsApp(connection, store=TokenStore(memory_keyring), section=section)

    yield make
