"""Answers asked for ahead of the screen that wants them (``Session.ask_ahead``): handed over
once, and a failure nobody took is no error at exit."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from credits_tui.api_client import errors
from credits_tui.api_client.client import CreditsClient
from credits_tui.session import Session


async def test_an_answer_asked_ahead_is_handed_over_once():
    session = Session(CreditsClient("http://credits.test", "token"))

    async def answer() -> int:
        return 42

    session.ask_ahead("status", answer())
    early = session.take_ahead("status")
    assert early is not None and await early == 42
    assert session.take_ahead("status") is None  # the next load asks the server again


async def test_a_failure_nobody_took_is_not_reported_as_never_retrieved():
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: reported.append(context))
    try:
        session = Session(CreditsClient("http://credits.test", "token"))

        async def unreachable() -> None:
            raise errors.NetworkError("Cannot reach the server.")

        session.ask_ahead("status", unreachable())
        await asyncio.sleep(0.01)
        del session
        gc.collect()
        await asyncio.sleep(0)
        assert reported == []
    finally:
        loop.set_exception_handler(None)
