"""Group commit of the audit events of reads (and the refreshed last-seen times of their
sessions).

A read changes nothing but the trail, and its answer may leave only once its audit events are
committed. Committing each read's events in a transaction of its own costs an INSERT and a
COMMIT per request, holding SQLite's one connection meanwhile. Here a read hands its events
over and waits: one task writes every event handed over meanwhile in one multi-row INSERT and
one COMMIT, then releases all of their requests at once. Under load a batch holds the events of
many requests; alone, a request waits for its own transaction as before.
"""

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, insert, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.audit import AuditValues
from server.orm import AuditEventRow, SessionRow

log = logging.getLogger(__name__)
AUDIT_TABLE = cast(Table, AuditEventRow.__table__)


@dataclass(slots=True)
class _Waiting:
    rows: list[AuditValues]
    touches: list[dict[str, object]]  # {"id": session id, "last_seen_at": when}
    committed: asyncio.Future[None]


class AuditWriter:
    """Writes handed-over audit events in shared transactions; `write` returns once the
    caller's events are committed, and raises what the commit raised."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._waiting: list[_Waiting] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit group commit")

    async def stop(self) -> None:
        """After the last request: write what is still waiting, then end."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        await self._task

    async def write(
        self, events: list[AuditValues], touch: tuple[str, datetime] | None = None
    ) -> None:
        """Commit `events`, and a session's new last-seen time (`touch`: its id, the time)."""
        if not events and touch is None:
            return
        if self._task is None or self._task.done():
            raise RuntimeError("the audit writer is not running")
        touches: list[dict[str, object]] = []
        if touch is not None:
            touches.append({"id": touch[0], "last_seen_at": touch[1]})
        waiting = _Waiting(events, touches, asyncio.get_running_loop().create_future())
        # Its failure is retrieved even when the request has gone (no "never retrieved" noise).
        waiting.committed.add_done_callback(_retrieve)
        self._waiting.append(waiting)
        self._wake.set()
        # Shielded: a client that leaves does not take its events out of the batch.
        await asyncio.shield(waiting.committed)

    def _take(self) -> list[_Waiting]:
        batch, self._waiting = self._waiting, []
        self._wake.clear()
        return batch

    async def _run(self) -> None:
        while not (self._stopping and not self._waiting):
            await self._wake.wait()
            await self._commit(self._take())

    async def _commit(self, batch: list[_Waiting]) -> None:
        if not batch:
            return
        try:
            async with self._sessionmaker() as db:
                rows = [row for item in batch for row in item.rows]
                if rows:  # Core, not the ORM's bulk insert: a third of the time for fifty rows
                    await db.execute(insert(AUDIT_TABLE), rows)
                touches = [touch for item in batch for touch in item.touches]
                if touches:  # by primary key, one statement for all
                    await db.execute(update(SessionRow), touches)
                await db.commit()
        except Exception as error:
            # Every request of the batch fails as its own commit would have: none is answered.
            log.warning("group commit of %d audit event set(s) failed: %s", len(batch), error)
            for item in batch:
                if not item.committed.done():
                    item.committed.set_exception(error)
            return
        for item in batch:
            if not item.committed.done():
                item.committed.set_result(None)


def _retrieve(committed: asyncio.Future[None]) -> None:
    if not committed.cancelled():
        committed.exception()
