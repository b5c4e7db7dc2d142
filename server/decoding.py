"""How much image decoding one server process does at a time, and giving its memory back.

A decoded frame can take hundreds of MB while its file takes a few hundred KB, so decodes
are admitted against a memory budget: in arrival order, as many at once as fit in the budget
and the CPUs. An honest user's big upload waits its turn instead of being refused; a hostile
burst cannot take more than the budget.
"""

import asyncio
import collections
import ctypes
import ctypes.util
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

log = logging.getLogger(__name__)

# glibc's mallopt parameter; see mallopt(3).
M_MMAP_THRESHOLD = -3
# Allocations from this size up get their own mapping, which free() returns to the system.
MMAP_THRESHOLD_BYTES = 1024 * 1024


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


_LIBC = _libc()


def return_large_allocations_to_the_system() -> None:
    """Fix glibc's mmap threshold (it otherwise rises after each big free, up to 32 MB, and
    decoded frames then stay in the heap after they are freed). No-op without glibc."""
    if _LIBC is not None and not _LIBC.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES):
        log.warning("mallopt(M_MMAP_THRESHOLD) was refused; freed images may stay resident")


def trim_free_memory() -> None:
    """Give the heap's free pages back to the system (after a decode burst). Blocking."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


@dataclass(slots=True)
class _Waiter:
    cost: int
    granted: asyncio.Future[None]


class DecodeGate:
    """Admits decodes in arrival order while their costs (bytes) fit in `budget_bytes` and
    fewer than `max_running` run."""

    def __init__(self, budget_bytes: int, max_running: int) -> None:
        self.budget_bytes = budget_bytes
        self.max_running = max(1, max_running)
        self.in_use = 0
        self.running = 0
        self._queue: collections.deque[_Waiter] = collections.deque()

    def _fits(self, cost: int) -> bool:
        return self.running < self.max_running and self.in_use + cost <= self.budget_bytes

    def _admit_waiting(self) -> None:
        while self._queue and self._fits(self._queue[0].cost):
            waiter = self._queue.popleft()
            if waiter.granted.done():  # cancelled while waiting
                continue
            self._take(waiter.cost)
            waiter.granted.set_result(None)

    def _take(self, cost: int) -> None:
        self.in_use += cost
        self.running += 1

    @asynccontextmanager
    async def admit(self, cost_bytes: int) -> AsyncIterator[None]:
        # Anything bigger than the budget (files stored before a limit was lowered) runs alone.
        cost = max(0, min(cost_bytes, self.budget_bytes))
        if not self._queue and self._fits(cost):
            self._take(cost)
        else:
            waiter = _Waiter(cost, asyncio.get_running_loop().create_future())
            self._queue.append(waiter)
            try:
                await waiter.granted
            except asyncio.CancelledError:
                if waiter.granted.done() and not waiter.granted.cancelled():
                    self._release(cost)  # granted just as it was cancelled
                else:
                    waiter.granted.cancel()
                    self._admit_waiting()
                raise
        try:
            yield
        finally:
            self._release(cost)
            if self.running == 0:
                await asyncio.to_thread(trim_free_memory)

    def _release(self, cost: int) -> None:
        self.in_use -= cost
        self.running -= 1
        self._admit_waiting()
