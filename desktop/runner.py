"""Background work for the GUI: coroutines run on one asyncio loop in a worker thread.

The GUI thread never waits on the network or the disk. It submits a coroutine and gets a
`Task`, a QObject whose signals are delivered on the GUI thread (Qt queues a signal emitted
from another thread to the receiver's thread).
"""

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

# A coroutine function given a progress callback: progress(done, total).
Progress = Callable[[int, int], None]
Job = Callable[[Progress], Awaitable[Any]]


class Task(QObject):
    """One submitted job. Exactly one of `succeeded`/`failed`/`cancelled` is emitted, then
    `finished`. `progressed(done, total)` may come before."""

    succeeded = Signal(object)
    failed = Signal(object)
    cancelled = Signal()
    progressed = Signal(int, int)
    finished = Signal()

    # Carries the outcome from the worker thread to the GUI thread (a queued connection).
    _outcome = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self._future: Future[Any] | None = None
        self.is_done = False
        # Queued even when emitted on the GUI thread (a future already done when its callback
        # is added runs the callback at once, in the submitting thread).
        self._outcome.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def cancel(self) -> None:
        if self._future is not None:
            self._future.cancel()

    def _complete(self, future: Future[Any]) -> None:
        # Runs in the worker thread. The public signals are emitted on the GUI thread, from
        # _deliver: a job that ends at once must not finish before its submitter has had the
        # chance to connect to it.
        self._outcome.emit(future)

    def _deliver(self, future: Future[Any]) -> None:
        if future.cancelled():
            self.cancelled.emit()
        elif (error := future.exception()) is not None:
            self.failed.emit(error)
        else:
            self.succeeded.emit(future.result())
        self.finished.emit()


class AsyncRunner(QObject):
    """Owns the worker thread and its event loop. `became_idle` fires whenever the last
    running job finishes (screenshots and tests wait on it)."""

    became_idle = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="medsys-io", daemon=True)
        self._thread.start()
        self._running: set[Task] = set()

    def submit(self, job: Job) -> Task:
        task = Task()
        self._running.add(task)  # kept alive until it is finished
        task.finished.connect(lambda: self._finish(task))

        def progress(done: int, total: int) -> None:
            task.progressed.emit(done, total)

        async def run() -> Any:
            return await job(progress)

        future = asyncio.run_coroutine_threadsafe(run(), self.loop)
        task._future = future
        future.add_done_callback(task._complete)
        return task

    def _finish(self, task: Task) -> None:
        task.is_done = True
        self._running.discard(task)
        if not self._running:
            self.became_idle.emit()

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
