"""One cheap Argon2 hash of the demo password for tests (the real one costs ~0.1 s a user)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher

from credits_tui.backend.demo import DEMO_PASSWORD


@cache
def cheap_demo_hash() -> str:
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(DEMO_PASSWORD)
