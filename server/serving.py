"""Serving: one process, or N worker processes sharing one listening socket (PostgreSQL only).

The socket is bound before anything else, so `--port 0` gets a real port to announce, and
the workers, forked after it, all accept on it: the kernel spreads connections between them.
"""

import asyncio
import gc
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Coroutine
from types import FrameType
from typing import Any

from aiohttp import web

from server.keys import SETTINGS

log = logging.getLogger(__name__)
LINGERING_SECONDS = 10.0  # aiohttp's default


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def announce(sock: socket.socket, workers: int) -> None:
    host, port = sock.getsockname()[:2]
    suffix = f" with {workers} workers" if workers > 1 else ""
    # Tests and scripts read this line to learn the port (with --port 0).
    print(f"medsys is serving on http://{host}:{port}{suffix}", flush=True)


async def serve_on(
    app: web.Application, sock: socket.socket, on_started: Callable[[], None]
) -> None:
    """Serve `app` on an already listening socket until SIGINT or SIGTERM."""
    # aiohttp closes a connection whose handler waits for a request (none yet, a head not
    # finished, or the next one on a kept-alive connection) after keepalive_timeout. After an
    # early answer (413, 408) it reads what the client still sends, so that the client sees
    # the answer rather than a reset; a client that sends nothing is not waited for longer
    # than the body timeout.
    settings = app[SETTINGS]
    runner = web.AppRunner(
        app,
        access_log=None,
        keepalive_timeout=settings.keepalive_timeout,
        lingering_time=min(LINGERING_SECONDS, settings.body_timeout),
    )
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        # What startup made (modules, the ORM's mappings, the wire models' schemas: most of
        # the heap, and it lives as long as the process) is left out of garbage collection.
        # Each full collection went over all of it and held the loop meanwhile: the slowest
        # 1 % of reads at 64 connections took 114-153 ms, 46-56 ms once frozen (scratch
        # driver, wrk -t2 -c64, 10,000 questions).
        gc.collect()
        gc.freeze()
        on_started()
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopped.set)
        await stopped.wait()
    finally:
        await runner.cleanup()


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run the server's event loop to the end of `main`: uvloop's where it is installed (not
    on Windows). A read is a handful of loop callbacks (the socket, the database's thread, the
    audit commit), and uvloop's cost less CPU than asyncio's own."""
    loop_factory = None
    if sys.platform != "win32":
        import uvloop

        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(main)


def _fork_worker(
    make_app: Callable[[bool], web.Application], sock: socket.socket, first: bool
) -> int:
    pid = os.fork()
    if pid:
        return pid
    status = 1
    try:
        run(serve_on(make_app(first), sock, lambda: None))
        status = 0
    except Exception:
        log.exception("worker %d failed", os.getpid())
    finally:
        sys.stdout.flush()
        os._exit(status)


def serve_workers(
    make_app: Callable[[bool], web.Application], sock: socket.socket, workers: int
) -> None:
    """Fork `workers` processes and keep them running (one that dies is replaced) until
    SIGINT or SIGTERM, which is passed on to them. `make_app(True)` makes the first worker's
    app (the one that also holds the DICOM port), and its replacement's."""
    first = _fork_worker(make_app, sock, True)
    children = {first} | {_fork_worker(make_app, sock, False) for _ in range(workers - 1)}
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    announce(sock, workers)
    while children:
        pid, status = os.wait()
        children.discard(pid)
        if not stopping:
            log.error("worker %d ended (status %d); starting another", pid, status)
            replacement = _fork_worker(make_app, sock, pid == first)
            first = replacement if pid == first else first
            children.add(replacement)
