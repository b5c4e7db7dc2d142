"""A test and a call in a decoding worker meeting through two FIFOs: the call says it has
started, then waits until the test lets it go. No sleeping on either side."""

import asyncio
import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
# A side that does not come within this long has failed: the test fails rather than hangs.
SECONDS = 30


class Handshake:
    def __init__(self, folder: Path, name: str = "call") -> None:
        self.started = folder / f"{name}-started"
        self.go = folder / f"{name}-go"
        os.mkfifo(self.started)
        os.mkfifo(self.go)

    async def wait_started(self) -> None:
        assert await _blocking(self.started.read_bytes) == b"started"

    async def let_go(self) -> None:
        await _blocking(self.go.write_bytes, b"go")

    def release(self) -> None:
        """Open both ends of each FIFO without blocking, so that a thread still waiting on
        one (a test that failed half-way) is let go instead of holding the interpreter."""
        for fifo in (self.started, self.go):
            for flags in (os.O_RDONLY | os.O_NONBLOCK, os.O_WRONLY | os.O_NONBLOCK):
                with contextlib.suppress(OSError):
                    os.close(os.open(fifo, flags))


async def _blocking(call: Callable[..., T], *args: object) -> T:
    return await asyncio.wait_for(asyncio.to_thread(call, *args), SECONDS)


def in_worker(started: Path, go: Path) -> str:
    """The worker's side: say it has started, then wait to be let go."""
    started.write_bytes(b"started")
    go.read_bytes()
    return "let go"


def pid_when_let_go(started: Path, go: Path) -> int:
    in_worker(started, go)
    return os.getpid()
