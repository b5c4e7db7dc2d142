"""asyncio helpers shared by the server's modules."""

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

# What abandoned callers' threads are still making: referenced until it is made and released.
_abandoned: set["asyncio.Future[Any]"] = set()


async def made_in_thread(make: Callable[[], T], release: Callable[[T], None]) -> T:
    """`make()` in a thread. A caller cancelled meanwhile (the server stopping, a client gone)
    cannot stop the thread: what it makes (an open file, a started process) is handed to
    `release` once made, instead of being left for the garbage collector, or forever."""
    making = asyncio.ensure_future(asyncio.to_thread(make))
    try:
        return await asyncio.shield(making)
    except asyncio.CancelledError:
        _abandoned.add(making)
        making.add_done_callback(_abandoned.discard)
        making.add_done_callback(lambda made: _release(made, release))
        raise


def _release(made: "asyncio.Future[T]", release: Callable[[T], None]) -> None:
    if not made.cancelled() and made.exception() is None:
        release(made.result())
