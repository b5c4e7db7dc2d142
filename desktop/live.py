"""The live connection: one WebSocket per session to GET /api/events, kept open with
reconnects and back-off, resuming after the last event it received (docs/api.md, "Live
events"). Events carry ids only: widgets read what changed through the normal endpoints."""

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import Future

import aiohttp
from pydantic import ValidationError
from PySide6.QtCore import QObject, Signal

from desktop.http import ApiError
from shared.models import Event

# Seconds before the n-th attempt to reconnect (jittered, so clients of a restarted server do
# not all come back in the same instant).
RECONNECT_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
# The server pings every 30 s: this long without a frame or a ping means the link is dead.
SILENCE_LIMIT = 75.0
SESSION_ENDED = 4401
OpenSocket = Callable[[int | None], Awaitable[aiohttp.ClientWebSocketResponse]]


class LiveConnection(QObject):
    """Signals arrive on the GUI thread (they are emitted from the runner's thread, and Qt
    queues a signal to the receiver's thread)."""

    arrived = Signal(object)  # an Event
    resynced = Signal()  # events were missed for good: every list reloads
    state_changed = Signal(bool)  # live or not
    ended = Signal(str)  # the server closed with 4401: the session has ended

    def __init__(self, open_socket: OpenSocket, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._open_socket = open_socket
        self._loop = loop
        self._future: Future[None] | None = None
        self.last_id: int | None = None  # touched on the runner's thread only
        self.is_live = False
        self.state_changed.connect(self._remember_state)

    def _remember_state(self, live: bool) -> None:
        self.is_live = live

    def start(self) -> None:
        if self._future is None:
            self._future = asyncio.run_coroutine_threadsafe(self._run(), self._loop)

    def stop(self) -> None:
        if self._future is not None:
            self._future.cancel()  # cancels the task on its loop
            self._future = None

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                socket = await self._open_socket(self.last_id)
            except ApiError as error:
                if error.status == 401:
                    self.ended.emit("the server no longer accepts your session.")
                    return
            else:
                failures = 0
                self.state_changed.emit(True)
                try:
                    code = await self._read(socket)
                finally:
                    await socket.close()
                if code == SESSION_ENDED:
                    self.ended.emit("it was ended on the server.")
                    return
            self.state_changed.emit(False)
            delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
            failures += 1
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))

    async def _read(self, socket: aiohttp.ClientWebSocketResponse) -> int | None:
        """Deliver frames until the socket closes; its close code."""
        while True:
            try:
                message = await socket.receive(timeout=SILENCE_LIMIT)
            except TimeoutError:
                return None
            if message.type != aiohttp.WSMsgType.TEXT:
                return socket.close_code
            try:
                event = Event.model_validate(json.loads(message.data))
            except (ValueError, ValidationError):
                continue  # a frame this client does not understand: not its business
            self.last_id = event.id
            if event.type == "resync":
                self.resynced.emit()
            else:
                self.arrived.emit(event)


class Follower(QObject):
    """Calls `action(event)` for the events of `types` (and `action(None)` after a resync:
    reload everything). A child of the widget it serves, so it goes with that widget."""

    def __init__(
        self,
        live: LiveConnection,
        types: Iterable[str],
        action: Callable[[Event | None], None],
        parent: QObject,
    ) -> None:
        super().__init__(parent)
        self._types = frozenset(types)
        self._action = action
        live.arrived.connect(self._arrived)
        live.resynced.connect(self._resynced)

    def _arrived(self, event: Event) -> None:
        if event.type in self._types:
            self._action(event)

    def _resynced(self) -> None:
        self._action(None)
