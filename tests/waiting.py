"""Waiting in tests: for a condition to come true, for a coroutine to finish."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


def eventually(probe: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    """`probe()`'s first truthy answer, polled every 0.2 s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := probe():
            return found
        time.sleep(0.2)
    pytest.fail(f"no {what} within {timeout:.0f} s")


def in_a_thread(function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` in a thread of its own, in a copy of this one's context (Prefect's
    test settings live there). The browser tests' sync Playwright leaves an event loop
    running in the main thread: there `asyncio.run` refuses to start, and Prefect's
    sync-or-async calls return coroutines."""
    context = contextvars.copy_context()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(context.run, function, *args).result()


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` away from any running loop (see `in_a_thread`)."""
    return in_a_thread(asyncio.run, coroutine)
