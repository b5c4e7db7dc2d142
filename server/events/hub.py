"""The events hub of one server process: it reads committed events from the outbox table and
hands each to the sockets whose user receives it.

It wakes when this process announces something (SQLite: there is one process) or when
PostgreSQL notifies the channel (a write by any process), and also every few seconds in case a
notification was lost; after a lost database connection it simply reads what it missed. It
also ends sockets whose session ended (4401, within 5 s) and drops events past retention.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

import asyncpg
from aiohttp import web
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.events.outbox import CHANNEL
from server.events.recipients import Listener, frame, receives
from server.orm import EventRow
from server.sessions import live_sessions
from server.settings import Settings

log = logging.getLogger(__name__)

POLL_SECONDS = 3.0  # a safety net under the notifications
SESSION_CHECK_SECONDS = 2.0  # a socket of an ended session is closed within 5 s
PURGE_SECONDS = 3600.0
BATCH = 500
CLOSE_SESSION_ENDED = 4401
CLOSE_GOING_AWAY = 1001
CLOSE_TRY_AGAIN = 1013  # too slow to read, or no pong: the client reconnects and resumes
RECONNECT_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)
CLOSE_PATIENCE_SECONDS = 5.0


def _set(event: asyncio.Event, *_args: object) -> None:
    event.set()


@dataclass(eq=False)
class Subscriber:
    """One socket: its user, its session, and the events waiting to be sent to it."""

    listener: Listener
    session_id: str
    socket: web.WebSocketResponse
    transport: asyncio.Transport | None
    cursor: int  # the last event id this socket has been given (or skipped)
    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    # While its backlog is read, live events wait here (so that ids stay in order).
    replaying: bool = True
    held: list[EventRow] = field(default_factory=list)
    gone: asyncio.Event = field(default_factory=asyncio.Event)  # set once unsubscribed

    async def close(self, code: int, reason: str) -> None:
        """Close with `code`; a client too stalled to take even the close frame is cut off
        (a plain close of the transport would wait for its unsent bytes forever)."""
        closed = False
        try:
            async with asyncio.timeout(CLOSE_PATIENCE_SECONDS):
                await self.socket.close(code=code, message=reason.encode())
            closed = True
        except Exception:
            log.debug("events: a socket did not take its close frame", exc_info=True)
        finally:
            # Also when cancelled: the receive loop ends (and cancels the sender) as the
            # close begins.
            if not closed and self.transport is not None:
                self.transport.abort()

    def offer(self, event: EventRow) -> None:
        if event.id <= self.cursor:
            return
        if self.replaying:
            self.held.append(event)
            return
        self.cursor = event.id
        if receives(self.listener, event):
            self.queue.put_nowait(frame(event))


class EventHub:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessionmaker = sessionmaker
        self._settings = settings
        self._clock = clock
        self.subscribers: set[Subscriber] = set()
        self.last_id = 0  # the newest event this process has read
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._listener_connection: asyncpg.Connection | None = None

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        async with self._sessionmaker() as db:
            self.last_id = int(await db.scalar(select(func.max(EventRow.id))) or 0)
        self._tasks = [
            asyncio.create_task(self._deliver_forever(), name="events-deliver"),
            asyncio.create_task(self._check_sessions_forever(), name="events-sessions"),
            asyncio.create_task(self._purge_forever(), name="events-purge"),
        ]
        if not self._settings.is_sqlite:
            self._tasks.append(asyncio.create_task(self._listen_forever(), name="events-listen"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._listener_connection is not None:
            with contextlib.suppress(Exception):
                await self._listener_connection.close()
        await self.close_all()

    async def close_all(self) -> None:
        """Close every socket with "going away" (1001): the server is stopping."""
        await asyncio.gather(
            *(
                subscriber.close(CLOSE_GOING_AWAY, "The server is stopping.")
                for subscriber in list(self.subscribers)
            )
        )

    def wake(self) -> None:
        self._wake.set()

    # --- subscribing --------------------------------------------------------------------

    async def subscribe(self, subscriber: Subscriber, after: int | None) -> None:
        """Register a socket; with `after`, first queue what it missed (or a resync)."""
        self.subscribers.add(subscriber)
        try:
            if after is None:
                subscriber.cursor = self.last_id
            else:
                await self._replay(subscriber, after)
        finally:
            subscriber.replaying = False
            held, subscriber.held = subscriber.held, []
            for event in held:
                subscriber.offer(event)

    async def _replay(self, subscriber: Subscriber, after: int) -> None:
        async with self._sessionmaker() as db:
            oldest, newest = (
                await db.execute(select(func.min(EventRow.id), func.max(EventRow.id)))
            ).one()
            newest = max(int(newest or 0), self.last_id)
            # A gap before the oldest kept event means events were dropped for retention.
            if after > newest or (oldest is not None and after < int(oldest) - 1):
                subscriber.queue.put_nowait(f'{{"type": "resync", "id": {newest}}}')
                subscriber.cursor = newest
                return
            subscriber.cursor = after
            while True:
                batch = await _events_after(db, subscriber.cursor)
                for event in batch:
                    subscriber.cursor = event.id
                    if receives(subscriber.listener, event):
                        subscriber.queue.put_nowait(frame(event))
                if len(batch) < BATCH:
                    return

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        subscriber.gone.set()

    # --- delivering ---------------------------------------------------------------------

    async def _deliver_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_SECONDS):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self._deliver_new()
            except Exception as error:  # the database away: the next round reads what's missed
                log.warning("events: could not read new events (%s)", error)

    async def _deliver_new(self) -> None:
        while True:
            async with self._sessionmaker() as db:
                batch = await _events_after(db, self.last_id)
            for event in batch:
                self.last_id = event.id
                for subscriber in list(self.subscribers):
                    subscriber.offer(event)
            if len(batch) < BATCH:
                return

    async def _listen_forever(self) -> None:
        """LISTEN on a connection of its own (not the pool's), re-established with back-off;
        each (re)connection is followed by a read of what may have been missed."""
        attempt = 0
        dsn = self._settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
        while True:
            try:
                connection = await asyncpg.connect(dsn, timeout=10)
                self._listener_connection = connection
                lost = asyncio.Event()
                connection.add_termination_listener(partial(_set, lost))
                await connection.add_listener(CHANNEL, lambda *_args: self.wake())
                attempt = 0
                self.wake()
                while not connection.is_closed() and not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(5):
                            await lost.wait()
                    if not lost.is_set():
                        await connection.execute("SELECT 1")  # notices a silent drop
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("events: the listening connection is down (%s)", error)
            finally:
                if self._listener_connection is not None:
                    with contextlib.suppress(Exception):
                        await self._listener_connection.close()
                    self._listener_connection = None
            await asyncio.sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])
            attempt += 1

    # --- sessions and retention ---------------------------------------------------------

    async def _check_sessions_forever(self) -> None:
        while True:
            await asyncio.sleep(SESSION_CHECK_SECONDS)
            if not self.subscribers:
                continue
            try:
                async with self._sessionmaker() as db:
                    alive = await live_sessions(
                        db,
                        self._settings,
                        {subscriber.session_id for subscriber in self.subscribers},
                        self._clock(),
                    )
            except Exception as error:
                log.warning("events: could not check sessions (%s)", error)
                continue
            ended = [s for s in self.subscribers if s.session_id not in alive]
            for subscriber in ended:
                self.unsubscribe(subscriber)
            await asyncio.gather(
                *(s.close(CLOSE_SESSION_ENDED, "The session has ended.") for s in ended)
            )

    async def _purge_forever(self) -> None:
        while True:
            try:
                cutoff = self._clock() - timedelta(seconds=self._settings.event_retention_seconds)
                async with self._sessionmaker() as db:
                    await db.execute(delete(EventRow).where(EventRow.at < cutoff))
                    await db.commit()
            except Exception as error:
                log.warning("events: could not drop old events (%s)", error)
            await asyncio.sleep(PURGE_SECONDS)


async def _events_after(db: AsyncSession, after: int) -> Sequence[EventRow]:
    """The next batch of events after id `after`, in id (commit) order."""
    statement = select(EventRow).where(EventRow.id > after).order_by(EventRow.id).limit(BATCH)
    return (await db.scalars(statement)).all()
