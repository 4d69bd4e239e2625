"""Probes that misbehave, for the capability runner's own tests (imported by its child)."""

from __future__ import annotations

import os
import time


async def blocks_the_loop() -> str:
    time.sleep(60)  # noqa: ASYNC251 - never yields: only the parent's bound ends it
    return "unreachable"


async def kills_the_interpreter() -> str:
    os._exit(7)


async def not_here() -> str:
    raise NotImplementedError("this loop has no such thing")


async def breaks() -> str:
    raise RuntimeError("it went wrong")
