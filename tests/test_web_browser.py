"""`credits-tui demo --web` in a real headless Chromium, driven as a person would.

The page loads with the product and the account in its title, the terminal shows the
balance, `4` opens Manage Credits, a search narrows the table; stopping the server (SIGTERM
to the serving process alone, as a service manager would) leaves no app process behind.
Quicker tests around it: no other web page (nor a DNS-rebound name) may drive the app, and
serving beyond loopback needs --public.

Chromium and its driver come from Debian (``chromium``, ``chromium-driver``, installed by
.ci/run); Selenium is given that driver, so Selenium Manager never downloads anything.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from credits_tui.cli import main
from credits_tui.embedded import free_port
from credits_tui.web import AppServer

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
CHROMEDRIVER = shutil.which("chromedriver")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs Chromium and chromedriver (Debian: apt-get install chromium chromium-driver; .ci/run installs them)")

REPO = Path(__file__).resolve().parents[1]
BALANCE = re.compile(r"([\d,]+\.\d\d) credits · Demo Co\.")

# textual-serve's xterm.js paints the terminal on a <canvas> (its WebGL or canvas addon), so
# the page's DOM holds no text: `.xterm-rows` does not exist and the screen-reader tree is
# off. A screenshot would need OCR, which is neither installed nor reliable. What the canvas
# paints is xterm.js's own cell buffer, filled by parsing what the app sent down the
# websocket; xterm's public API reads it (`terminal.buffer.active.getLine(y)`). The page
# keeps its Terminal in a closure, so this script, run before the page's own scripts, notes
# the first object an xterm addon is activated with (`addon.activate(terminal)` sets
# `this._terminal`) — the page itself is left as it is.
CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, "_terminal", {
  configurable: true,
  set(value) {
    if (!window.__xterm && value && value.buffer) window.__xterm = value;
    Object.defineProperty(this, "_terminal", {value, writable: true, configurable: true, enumerable: true});
  },
});
"""
SCREEN_TEXT = """
const t = window.__xterm;
if (!t) return null;
const buffer = t.buffer.active, lines = [];
for (let y = 0; y < t.rows; y++) lines.push(buffer.getLine(buffer.viewportY + y).translateToString(true));
return lines.join("\\n");
"""


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}: {process.stderr.read().decode()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listened on port {port} within {timeout} s")


def group_members(pgid: int) -> list[str]:
    return subprocess.run(["ps", "-o", "pid=,args=", "-g", str(pgid)], capture_output=True, text=True,
                          check=False).stdout.splitlines()


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True



@pytest.fixture
def demo_web(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data"),
           "TEXTUAL_ANIMATIONS": "none"}
    env.pop("CREDITS_TUI_TOKEN", None)
    # Its own process group: whatever it starts can be found, and killed if the test fails.
    server = subprocess.Popen([sys.executable, "-m", "credits_tui.cli", "demo", "--web", "--port", str(port),
                               "--transactions", "300"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              start_new_session=True)
    try:
        yield port, server  # the test waits for the port: Chromium starts in the meantime
    finally:
        if group_alive(server.pid):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (the test extra)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1280,900", f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CATCH_TERMINAL})
        yield driver
    finally:
        driver.quit()


def wait_for_screen(driver: Any, predicate: Callable[[str], bool], what: str,
                    timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = driver.execute_script(SCREEN_TEXT) or ""
        if predicate(screen):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"never saw {what}; the terminal in the page showed:\n{screen}")


@pytest.mark.slow
@needs_chromium
def test_the_demo_in_chromium(demo_web: tuple[int, subprocess.Popen[bytes]], browser: Any):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    port, server = demo_web
    wait_for_port(port, server, timeout=30)
    browser.get(f"http://127.0.0.1:{port}/")
    assert "Purchase Credits" in browser.title and "Demo Co." in browser.title

    status = wait_for_screen(browser, lambda s: BALANCE.search(s) is not None, "the balance", timeout=20)
    assert "Card on file" in status

    # Each session's app gets the server and token through its environment, not its arguments.
    apps = [line for line in group_members(server.pid) if "credits_tui.web_session" in line]
    assert len(apps) == 1, group_members(server.pid)
    assert "127.0.0.1:" not in apps[0] and "token" not in apps[0].lower()

    # Click an empty part of the terminal to give it the keyboard, as a person would.
    screen = browser.find_element(By.CSS_SELECTOR, ".xterm-screen")
    ActionChains(browser).move_to_element_with_offset(screen, 0, screen.size["height"] // 2 - 40).click().perform()
    keys = ActionChains(browser)
    keys.send_keys("4").perform()
    wait_for_screen(browser, lambda s: "Last 30 days" in s and "Handwritten letter ×" in s,
                    "Manage Credits, every kind of row")

    keys.send_keys("/").perform()
    time.sleep(0.5)
    keys.send_keys("postcard").perform()
    found = wait_for_screen(browser, lambda s: "Postcard ×" in s and "Handwritten letter ×" not in s,
                            "only postcard rows after the search")
    assert "postcard" in found  # what was typed shows in the search box

    # A service manager stops the server alone: it must take every app it started with it.
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=15) == 0
    deadline = time.monotonic() + 10
    while group_alive(server.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not group_alive(server.pid), f"left running: {group_members(server.pid)}"


WEBSOCKET_HEADERS = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                     "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


async def test_only_the_apps_own_page_may_open_its_websocket():
    server = AppServer(host="127.0.0.1", port=8765, title="Purchase Credits · <b>Acme</b> · a@b.example",
                       public=False)
    async with TestClient(TestServer(await server._make_app(), host="127.0.0.1")) as client:
        page = await client.get("/")
        text = await page.text()
        assert "<title>Purchase Credits · &lt;b&gt;Acme&lt;/b&gt; · a@b.example</title>" in text
        assert f'data-session-websocket-url="ws://{client.host}:{client.port}/ws"' in text
        assert "fonts.googleapis.com" not in text  # nothing is fetched from a third party

        # Any page the user visits could open a websocket to 127.0.0.1: that one would drive
        # a signed-in app. Refused before an app process is started.
        evil = await client.get("/ws", headers={**WEBSOCKET_HEADERS, "Origin": "https://evil.example"})
        assert evil.status == 403
        missing = await client.get("/ws", headers=WEBSOCKET_HEADERS)
        assert missing.status == 403
        # DNS rebinding: evil.example resolving to 127.0.0.1 makes the page "same origin".
        rebound = await client.get("/ws", headers={**WEBSOCKET_HEADERS, "Host": "evil.example:8765",
                                                    "Origin": "http://evil.example:8765"})
        assert rebound.status == 403
        assert not server._sessions


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.7", "example.com"])
def test_serving_beyond_loopback_needs_public(host: str):
    result = CliRunner().invoke(main, ["demo", "--web", "--host", host])
    assert result.exit_code == 2
    assert "not a loopback address" in result.stderr and "--public" in result.stderr
    assert "Preparing" not in result.stderr  # refused before any work


def test_host_and_port_belong_to_web():
    result = CliRunner().invoke(main, ["demo", "--port", "9000"])
    assert result.exit_code == 2 and "go with --web" in result.stderr
