"""Worker processes driven from the event loop, one call at a time each: the call is written to
the worker's pipe, and its answer read once the pipe is readable (`loop.add_reader`).

Not ProcessPoolExecutor: it passes each call and each answer through two threads of the
server (its queue's feeder and its manager), and each of those needs the GIL that the event
loop holds through a burst of arrivals. Measured with a STOW-RS burst of 512×512 films
(bench.dicom): a thumbnail took 4.9 ms in its worker and 6 ms more on its way there and back;
the decode gate's places were held for that round trip while the workers waited.

Answers are small (a thumbnail's type, a render's statistics): one whole answer is in the pipe
once it is readable, and is read without blocking the loop for longer than a copy.
"""

import asyncio
import collections
import logging
import pickle
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar, cast

from server.aio import made_in_thread

log = logging.getLogger(__name__)

Answer = TypeVar("Answer")
Call = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]
# How long a closing worker may take to finish its call and exit before it is killed.
EXIT_SECONDS = 10.0


class WorkerDied(Exception):
    """The worker process ended during the call: its decoder crashed, or it was killed."""


class Worker:
    """One worker process and the server's end of its pipe. Blocking to start (the fork
    server forks it); everything else runs on the event loop."""

    def __init__(
        self, context: BaseContext, initializer: Callable[..., None], initargs: tuple[Any, ...]
    ) -> None:
        self._conn, theirs = context.Pipe()
        self.process: BaseProcess = context.Process(  # type: ignore[attr-defined]
            target=_serve, args=(theirs, initializer, initargs), daemon=True
        )
        self.process.start()
        theirs.close()  # the worker's own: its end of the pipe closes when it ends

    async def call(self, call: Call) -> Any:
        """Run `call` in the worker. Not cancellable half-way: the caller (WorkerPool) lets
        it finish, so the worker's answer is read before it takes another call."""
        loop = asyncio.get_running_loop()
        readable = loop.create_future()
        descriptor = self._conn.fileno()
        loop.add_reader(descriptor, _set_once, readable)
        try:
            try:
                self._conn.send(call)
            except OSError:  # BrokenPipeError: it had already ended
                raise WorkerDied from None
            await readable
        finally:
            loop.remove_reader(descriptor)
        try:
            done, value, where = self._conn.recv()
        except (EOFError, OSError):
            raise WorkerDied from None
        if done:
            return value
        value.add_note(f"In the worker process:\n{where}")
        raise value

    def close(self) -> None:
        """Let the worker end (it reads the end of its pipe, after the call it may be in) and
        wait for it; killed if it does not. Blocking."""
        self._conn.close()
        self.process.join(EXIT_SECONDS)
        if self.process.exitcode is None:
            log.warning("a worker process did not end in %.0f s; killed", EXIT_SECONDS)
            self.process.kill()
            self.process.join()


def _set_once(future: "asyncio.Future[None]") -> None:
    if not future.done():
        future.set_result(None)


def _serve(conn: Connection, initializer: Callable[..., None], initargs: tuple[Any, ...]) -> None:
    """The worker: each call, until the server closes its end of the pipe, or ends (a server
    that is killed cannot stop its workers; they read the end of their pipe instead)."""
    initializer(*initargs)
    while True:
        try:
            message = conn.recv_bytes()
        except EOFError:
            return
        try:
            function, args, kwargs = pickle.loads(message)
            answer = (True, function(*args, **kwargs), "")
        except Exception as error:  # the caller's to handle, with where it happened
            answer = (False, error, traceback.format_exc())
        try:
            conn.send(answer)
        except OSError:  # the server has ended
            return
        except Exception as error:  # an answer (or an exception) that does not pickle
            conn.send((False, RuntimeError(f"the answer could not be sent: {error!r}"), ""))


class WorkerPool:
    """Up to `size` workers, started when first needed, each running one call at a time.
    A worker that dies is replaced by a new one at the next call."""

    def __init__(
        self,
        size: int,
        context: BaseContext,
        initializer: Callable[..., None],
        initargs: tuple[Any, ...] = (),
    ) -> None:
        self.size = size
        self._context = context
        self._initializer = initializer
        self._initargs = initargs
        self._workers: set[Worker] = set()  # started or starting, idle or not
        self._starting = 0
        self._idle: collections.deque[Worker] = collections.deque()
        # Calls waiting for a worker, in arrival order.
        self._waiting: collections.deque[asyncio.Future[Worker]] = collections.deque()
        self._closed = False
        self._background: set[asyncio.Future[Any]] = set()

    async def start(self) -> None:
        """Start every worker now rather than at the first calls."""
        while len(self._workers) + self._starting < self.size:
            if (error := await self._start_one()) is not None:
                raise error

    async def run(self, function: Callable[..., Answer], *args: Any, **kwargs: Any) -> Answer:
        """`function(*args, **kwargs)` in a worker: a module-level function and picklable
        arguments. WorkerDied if its worker ends during the call."""
        worker = await self._take()
        calling = asyncio.ensure_future(worker.call((function, args, kwargs)))
        calling.add_done_callback(lambda done: self._after(worker, done))
        # A caller that gives up does not stop the call: the worker's answer must be read
        # before it takes another.
        return cast(Answer, await asyncio.shield(calling))

    async def run_alone(self, function: Callable[..., Answer], *args: Any, **kwargs: Any) -> Answer:
        """`function(*args, **kwargs)` in a worker started for it alone, ended after it."""
        # A caller that gives up leaves no worker behind, started or calling.
        worker = await made_in_thread(self._new_worker, self._end)
        calling = asyncio.ensure_future(worker.call((function, args, kwargs)))
        calling.add_done_callback(lambda _: self._end(worker))
        return cast(Answer, await asyncio.shield(calling))

    async def _take(self) -> Worker:
        if self._idle:
            return self._idle.popleft()
        given: asyncio.Future[Worker] = asyncio.get_running_loop().create_future()
        self._waiting.append(given)
        if len(self._workers) + self._starting < self.size:
            self._keep(asyncio.ensure_future(self._start_one()))
        try:
            return await given
        except asyncio.CancelledError:
            if given.done() and not given.cancelled():
                self._give_back(given.result())  # given just as the caller gave up
            raise

    async def _start_one(self) -> Exception | None:
        """Start a worker for the pool: it takes the first call waiting, or waits idle. If it
        cannot be started, the first call waiting fails with the reason (every call waiting,
        when no worker is left to take them), and the reason is returned."""
        self._starting += 1
        try:
            worker = await asyncio.to_thread(self._new_worker)
        except Exception as error:
            log.exception("a worker process could not be started")
            self._fail_waiting(error, every=not self._workers)
            return error
        finally:
            self._starting -= 1
        if self._closed:
            self._end(worker)
            return None
        self._workers.add(worker)
        self._give_back(worker)
        return None

    def _new_worker(self) -> Worker:
        if self._closed:
            raise RuntimeError("the worker pool is closed")
        return Worker(self._context, self._initializer, self._initargs)

    def _keep(self, task: "asyncio.Future[Any]") -> None:
        """Keep a reference to work under way that no caller awaits, until it is done."""
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _end(self, worker: Worker) -> None:
        """End a worker in a thread (its process is joined: no zombie is left)."""
        self._keep(asyncio.ensure_future(asyncio.to_thread(worker.close)))

    def _after(self, worker: Worker, calling: "asyncio.Future[Any]") -> None:
        """A call has ended: its worker takes the next, unless it died (or was stopped at
        shutdown half-way through, its answer unread)."""
        if calling.cancelled() or isinstance(calling.exception(), WorkerDied):
            self._workers.discard(worker)
            self._end(worker)
            if self._waiting and not self._closed:
                # A new worker in its place, for the calls waiting for one.
                self._keep(asyncio.ensure_future(self._start_one()))
            return
        self._give_back(worker)

    def _fail_waiting(self, error: Exception, *, every: bool) -> None:
        while self._waiting:
            waiting = self._waiting.popleft()
            if not waiting.done():
                waiting.set_exception(error)
                if not every:
                    return

    def _give_back(self, worker: Worker) -> None:
        if self._closed:
            return
        while self._waiting:
            waiting = self._waiting.popleft()
            if not waiting.done():  # a caller that gave up is passed over
                waiting.set_result(worker)
                return
        self._idle.append(worker)

    def close(self) -> None:
        """End every worker (each after the call it is in). Blocking."""
        self._closed = True
        workers, self._workers = list(self._workers), set()
        self._idle.clear()
        for worker in workers:
            worker.close()
