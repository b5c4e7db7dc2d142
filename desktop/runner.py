"""Background work for the GUI: coroutines run on one asyncio loop in a worker thread.

The GUI thread never waits on the network or the disk. It submits a coroutine and gets a
`Task`, a QObject whose signals are delivered on the GUI thread (Qt queues a signal emitted
from another thread to the receiver's thread).
"""

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

# A coroutine function given a progress callback: progress(done, total).
Progress = Callable[[int, int], None]
Job = Callable[[Progress], Awaitable[Any]]
# Sees a failure before the task's submitter; True takes it over (the task then reports
# `cancelled`, not `failed`): how a session ends itself on a 401 from any job.
Intercept = Callable[[object], bool]


class Task(QObject):
    """One submitted job. Exactly one of `succeeded`/`failed`/`cancelled` is emitted, then
    `finished`. `progressed(done, total)` may come before."""

    succeeded = Signal(object)
    failed = Signal(object)
    cancelled = Signal()
    progressed = Signal(int, int)
    finished = Signal()

    # Carries the outcome from the worker thread to the GUI thread: (kind, value).
    _outcome = Signal(str, object)

    def __init__(self, loop: asyncio.AbstractEventLoop, intercept: Intercept | None = None) -> None:
        super().__init__()
        self._loop = loop
        self._intercept = intercept
        self._job: asyncio.Task[Any] | None = None  # touched on the worker thread only
        self._cancel_asked = False
        self.is_done = False
        # Queued even when emitted on the GUI thread: a job that ends at once must not finish
        # before its submitter has had the chance to connect to it.
        self._outcome.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def cancel(self) -> None:
        self._loop.call_soon_threadsafe(self._cancel_in_loop)

    def _cancel_in_loop(self) -> None:
        self._cancel_asked = True
        if self._job is not None:
            self._job.cancel()

    def _start_in_loop(self, job: Job) -> None:
        if self._cancel_asked:
            self._outcome.emit("cancelled", None)
            return

        def progress(done: int, total: int) -> None:
            self.progressed.emit(done, total)

        self._job = self._loop.create_task(_run(job, progress))
        self._job.add_done_callback(self._ended_in_loop)

    def _ended_in_loop(self, job: "asyncio.Task[Any]") -> None:
        # A done callback runs once the coroutine has really ended, so no progress report can
        # follow the outcome, and the Task (kept alive until its outcome is delivered) is
        # never used by the worker after the GUI lets it go.
        if job.cancelled():
            self._outcome.emit("cancelled", None)
        elif (error := job.exception()) is not None:
            self._outcome.emit("failed", error)
        else:
            self._outcome.emit("succeeded", job.result())

    def _deliver(self, kind: str, value: object) -> None:
        if kind == "succeeded":
            self.succeeded.emit(value)
        elif kind == "failed" and not (self._intercept is not None and self._intercept(value)):
            self.failed.emit(value)
        else:
            self.cancelled.emit()
        self.finished.emit()


async def _run(job: Job, progress: Progress) -> Any:
    # The job's coroutine is made here, inside the task: one cancelled before it starts is
    # never created, rather than left un-awaited.
    return await job(progress)


class AsyncRunner(QObject):
    """Owns the worker thread and its event loop; `is_idle` when no job runs (screenshots and
    tests wait for it)."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="medsys-io", daemon=True)
        self._thread.start()
        self._running: set[Task] = set()

    def submit(self, job: Job, intercept: Intercept | None = None) -> Task:
        task = Task(self.loop, intercept)
        self._running.add(task)  # kept alive until its outcome is delivered
        task.finished.connect(lambda: self._finish(task))
        self.loop.call_soon_threadsafe(task._start_in_loop, job)
        return task

    def _finish(self, task: Task) -> None:
        task.is_done = True
        self._running.discard(task)

    @property
    def is_idle(self) -> bool:
        return not self._running

    def call(self, coroutine: Coroutine[Any, Any, Any], timeout: float = 10) -> Any:
        """Run a coroutine and wait for it; only for shutdown, never from a slot."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        """Cancel what still runs, let it unwind, then end the thread."""

        async def drain() -> None:
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for pending_task in pending:
                pending_task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        if self.loop.is_running():
            asyncio.run_coroutine_threadsafe(drain(), self.loop).result(timeout=10)
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()
