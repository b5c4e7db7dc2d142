"""How much image decoding one server process does at a time, where, and giving its memory
back.

A decoded frame can take hundreds of MB while its file takes a few hundred KB, so decodes
are admitted against a memory budget: in arrival order, as many at once as fit in the budget
and the CPUs. An honest user's big upload waits its turn instead of being refused; a hostile
burst cannot take more than the budget.

Decodes run in worker processes, one per CPU. Decoding a film is mostly Python (pydicom's
parser, its LUTs): in the server's own threads it held the GIL the event loop and the
database need, and a burst of arrivals was bound to one core (measured with
`bench.dicom`: 57 STOW instances/s in threads, 77 in worker processes, same run).
A decoder that crashes on a hostile file takes down a worker, not the server.
"""

import asyncio
import collections
import ctypes
import ctypes.util
import logging
import multiprocessing
import threading
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from server.workers import WorkerDied, WorkerPool
from shared.imaging import ImageRejected

log = logging.getLogger(__name__)

# glibc's mallopt parameters; see mallopt(3).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# Allocations from this size up get their own mapping, which free() returns to the system.
MMAP_THRESHOLD_BYTES = 1024 * 1024
# In a decoding worker, what a small film's decode allocates (its frame, the thumbnail's
# reduced copies) comes from the heap, and the heap keeps what is freed through a burst: the
# idle trimmer gives it back once decodes pause. With glibc's trim threshold (fixed at 128 KB
# once the mmap threshold is set) every decode gave its heap back and took it again page by
# page: in a STOW-RS burst of 512×512 films, 1.0 to 1.5 ms of each worker's 2.2 to 2.9 ms a
# film was the kernel's; 0.3 to 0.65 ms with these (scratch runs of 5 × 200 films, paired).
WORKER_MMAP_THRESHOLD_BYTES = 4 * 1024 * 1024
WORKER_TRIM_THRESHOLD_BYTES = 32 * 1024 * 1024


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


_LIBC = _libc()


def return_large_allocations_to_the_system(
    mmap_threshold: int = MMAP_THRESHOLD_BYTES, trim_threshold: int | None = None
) -> None:
    """Fix glibc's mmap threshold (it otherwise rises after each big free, up to 32 MB, and
    decoded frames then stay in the heap after they are freed), and its trim threshold when
    given. No-op without glibc."""
    if _LIBC is None:
        return
    if trim_threshold is not None and not _LIBC.mallopt(M_TRIM_THRESHOLD, trim_threshold):
        log.warning("mallopt(M_TRIM_THRESHOLD) was refused")
    if not _LIBC.mallopt(M_MMAP_THRESHOLD, mmap_threshold):
        log.warning("mallopt(M_MMAP_THRESHOLD) was refused; freed images may stay resident")


def trim_free_memory() -> None:
    """Give the heap's free pages back to the system (after a decode burst). Blocking."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


# How long a worker's decodes must pause before it gives its heap's free pages back.
IDLE_TRIM_SECONDS = 1.0


class IdleTrimmer:
    """Gives the heap's free pages back once decodes have paused, from a thread of its own.

    Not after every decode: malloc_trim walks the whole heap, 0.7 to 2 ms each time (measured
    in a worker's setting, mmap threshold fixed), where a 512×512 film's thumbnail takes
    2.4 to 3.3 ms; a burst of arrivals paid it on every film."""

    def __init__(
        self, trim: Callable[[], None] = trim_free_memory, idle_seconds: float = IDLE_TRIM_SECONDS
    ) -> None:
        self._trim = trim
        self._idle_seconds = idle_seconds
        self._finished = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._run, name="idle-trim", daemon=True).start()

    def finished(self) -> None:
        """A decode has ended."""
        self._finished.set()

    def _run(self) -> None:
        while True:
            self._finished.wait()
            self._finished.clear()
            while self._finished.wait(self._idle_seconds):  # another decode ended meanwhile
                self._finished.clear()
            self._trim()


def _worker_context() -> multiprocessing.context.BaseContext:
    """Workers forked from a fresh server process that has imported the decoders and taken
    a small image through them (server/decoders_warm.py), so that what they load on first
    use is loaded once and shared: not from
    this one, whose threads (the database's, the DICOM listener's) may hold locks at the
    fork, and quicker to start than a spawned interpreter importing numpy and pydicom."""
    if "forkserver" not in multiprocessing.get_all_start_methods():  # Windows
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["server.imaging", "server.pixels", "server.decoders_warm"])
    return context


Params = ParamSpec("Params")
Result = TypeVar("Result")
# The most calls of one function sent to a worker together (see `decode_batched`).
MAX_BATCH = 16


@dataclass(slots=True)
class _Waiter:
    cost: int
    granted: asyncio.Future[None]


@dataclass(slots=True)
class _Batching:
    """The calls of one function waiting to be sent together, and how many of its batches
    are being sent (each to a worker of its own)."""

    waiting: list[tuple[tuple[Any, ...], "asyncio.Future[Any]"]] = field(default_factory=list)
    senders: int = 0


class DecodeGate:
    """Admits decodes in arrival order while their costs (bytes) fit in `budget_bytes` and
    fewer than `max_running` run."""

    def __init__(self, budget_bytes: int, max_running: int) -> None:
        self.budget_bytes = budget_bytes
        self.max_running = max(1, max_running)
        self.in_use = 0
        self.running = 0
        self._queue: collections.deque[_Waiter] = collections.deque()
        self._workers: WorkerPool | None = None
        # Decodes someone waits for (an arrival's, a viewer's), waiting or running, and the
        # loop time the last of them ended: see `last_busy`.
        self._awaited = 0
        self._awaited_ended = 0.0
        self._batching: dict[Callable[..., Any], _Batching] = {}
        self._senders: set[asyncio.Task[None]] = set()

    async def decode(
        self,
        cost_bytes: int,
        function: Callable[Params, Result],
        *args: Params.args,
        **kwargs: Params.kwargs,
    ) -> Result:
        """`function(*args)` in a worker process, once admitted. `function` and its arguments
        cross to the worker by pickling: a module-level function, paths, small values."""
        with self._awaiting():
            return await self._decode(cost_bytes, function, args, kwargs)

    async def decode_batched(
        self, cost_bytes: int, function: Callable[..., Result], *args: Any
    ) -> Result:
        """Like `decode`, for small calls that come in bursts (the header of each arriving
        film): calls of `function` made while its earlier ones are under way wait, and go to
        the next worker together (MAX_BATCH at most), run there one after another. A round
        trip to a worker costs the event loop as much as a header read costs the worker, and
        each call waited for the loop to notice the last answer: in a STOW-RS burst (4 x 200
        films, scratch runs) the films' headers were read up to 0.19 s after their request's
        body had ended, and the rate went from 270 to 300-345 films/s once batched.

        `cost_bytes` is one call's (every call of `function` must cost the same): a batch's
        calls run one at a time. A call that fails fails alone; when a batch's worker dies,
        each of its calls is tried again on its own."""
        batching = self._batching.setdefault(function, _Batching())
        answer: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        batching.waiting.append((args, answer))
        if batching.senders < self.max_running:
            batching.senders += 1
            sender = asyncio.create_task(self._send_batches(cost_bytes, function, batching))
            self._senders.add(sender)
            sender.add_done_callback(self._senders.discard)
        with self._awaiting():
            return await answer

    async def _send_batches(
        self, cost_bytes: int, function: Callable[..., Any], batching: _Batching
    ) -> None:
        """Send the calls waiting, a batch at a time, until none is left."""
        try:
            while batching.waiting:
                batch = batching.waiting[:MAX_BATCH]
                del batching.waiting[:MAX_BATCH]
                batch = [(args, answer) for args, answer in batch if not answer.done()]
                if batch:
                    await self._send_batch(cost_bytes, function, batch)
        finally:
            batching.senders -= 1

    async def _send_batch(
        self,
        cost_bytes: int,
        function: Callable[..., Any],
        batch: list[tuple[tuple[Any, ...], "asyncio.Future[Any]"]],
    ) -> None:
        calls = [args for args, _ in batch]
        workers = self._pool()
        try:
            async with self.admit(cost_bytes):
                outcomes = await workers.run(_call, _each, (function, calls), {})
        except WorkerDied:
            if self._workers is workers:
                # One of them crashed its decoder: each is tried on its own, so that only it
                # fails.
                log.warning("an image decoding worker died; its batch is tried again call by call")
                results = await asyncio.gather(
                    *(self._decode(cost_bytes, function, args, {}) for args in calls),
                    return_exceptions=True,
                )
                outcomes = [(not isinstance(result, BaseException), result) for result in results]
            else:  # the workers were closed meanwhile (shutdown): none is started again
                stopped = ImageRejected("The image cannot be decoded: its decoder stopped.")
                outcomes = [(False, stopped)] * len(batch)
        except Exception as error:  # a call that cannot be sent, say
            outcomes = [(False, error)] * len(batch)
        except BaseException:  # cancelled at shutdown: so are the calls
            for _, answer in batch:
                answer.cancel()
            raise
        for (_, answer), (done, value) in zip(batch, outcomes, strict=True):
            if answer.done():  # its caller gave up
                continue
            if done:
                answer.set_result(value)
            else:
                answer.set_exception(value)

    @contextmanager
    def _awaiting(self) -> Iterator[None]:
        """A decode someone waits for, counted in `last_busy` while under way."""
        self._awaited += 1
        try:
            yield
        finally:
            self._awaited -= 1
            self._awaited_ended = asyncio.get_running_loop().time()

    async def decode_ahead(
        self,
        cost_bytes: int,
        function: Callable[Params, Result],
        *args: Params.args,
        **kwargs: Params.kwargs,
    ) -> Result:
        """Like `decode`, for work done ahead of need (a film rendered for the viewer before
        anyone opens it): not counted in `last_busy`."""
        return await self._decode(cost_bytes, function, args, kwargs)

    def last_busy(self) -> float:
        """The loop time a decode someone waits for last ended; now while one waits or runs.
        Work ahead of need waits for a pause in these: a STOW-RS request's films are decoded
        as they arrive, but filed only once the whole body has, so the filings alone left
        gaps in which that work took a worker from the arrivals."""
        if self._awaited:
            return asyncio.get_running_loop().time()
        return self._awaited_ended

    async def _decode(
        self,
        cost_bytes: int,
        function: Callable[..., Result],
        args: tuple[object, ...],
        kwargs: dict[str, object],
    ) -> Result:
        async with self.admit(cost_bytes):
            workers = self._pool()
            try:
                return await workers.run(_call, function, args, kwargs)
            except WorkerDied:
                # A decoder crashed (or its worker was killed). The image is tried again
                # alone, in a process of its own: one that kills its decoder again fails.
                log.warning("an image decoding worker died; its decode is tried again alone")
            try:
                return await workers.run_alone(_call, function, args, kwargs)
            except WorkerDied:
                raise ImageRejected("The image cannot be decoded: its decoder stopped.") from None

    async def start(self) -> None:
        """Start the worker processes now rather than at the first decode (the first start
        in a process also starts the fork server, ~0.6 s, in a thread: the loop runs on)."""
        await self._pool().start()

    def close(self) -> None:
        """Stop the worker processes (blocking: waits for them to exit)."""
        workers, self._workers = self._workers, None
        if workers is not None:
            workers.close()

    def _pool(self) -> WorkerPool:
        if self._workers is None:
            self._workers = WorkerPool(self.max_running, _worker_context(), _worker_started)
        return self._workers

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

    def _release(self, cost: int) -> None:
        self.in_use -= cost
        self.running -= 1
        self._admit_waiting()


# In a decoding worker: its trimmer (None in the server process).
_trimmer: IdleTrimmer | None = None


def _worker_started() -> None:
    """In each decoding worker, first."""
    global _trimmer
    return_large_allocations_to_the_system(WORKER_MMAP_THRESHOLD_BYTES, WORKER_TRIM_THRESHOLD_BYTES)
    _trimmer = IdleTrimmer()
    _trimmer.start()


def _call(
    function: Callable[..., Result], args: tuple[object, ...], kwargs: dict[str, object]
) -> Result:
    """In a worker: run one decode; once decodes pause, the heap's free pages go back (the
    next may be hours away; a decoded frame's freed memory should not wait that long)."""
    try:
        return function(*args, **kwargs)
    finally:
        if _trimmer is not None:
            _trimmer.finished()


def _each(function: Callable[..., Any], calls: list[tuple[Any, ...]]) -> list[tuple[bool, Any]]:
    """In a worker: a batch's calls one after another; for each, (True, its answer) or
    (False, its exception, noted with where it happened)."""
    outcomes: list[tuple[bool, Any]] = []
    for args in calls:
        try:
            outcomes.append((True, function(*args)))
        except Exception as error:  # the caller's to handle
            error.add_note(f"In the worker process:\n{traceback.format_exc()}")
            outcomes.append((False, error))
    return outcomes
