"""Group commit: many requests' writes in one transaction.

A write's answer may leave only once what it wrote is committed. Committing each in a
transaction of its own costs a BEGIN, its statements and a COMMIT per request, holding
SQLite's one connection meanwhile. Here a request hands its item over and waits: one task
writes every item handed over meanwhile in one transaction, then releases all of their
requests at once. Under load a batch holds the items of many requests; alone, a request waits
for its own transaction as before.

Two kinds use it: the audit events of reads (and the refreshed last-seen times of their
sessions), and the films that arrive over DICOM (STOW-RS parts, C-STORE instances).
"""

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import Table, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.audit import AuditValues
from server.orm import AuditEventRow, SessionRow
from server.rawsql import RawInsert

log = logging.getLogger(__name__)
AUDIT_TABLE = cast(Table, AuditEventRow.__table__)
# Every column but the id (an event lacking a key, as some tests write them, leaves it NULL).
AUDIT_INSERT = RawInsert(
    AUDIT_TABLE,
    [column.key for column in AUDIT_TABLE.columns if column.key != "id"],
)

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


@dataclass(slots=True)
class _Waiting(Generic[Item, Outcome]):
    item: Item
    committed: asyncio.Future[Outcome]


class GroupCommit(Generic[Item, Outcome]):
    """Writes handed-over items in shared transactions; `submit` returns an item's outcome
    once it is committed, and raises what the commit raised."""

    name = "group commit"
    # When a batch of several fails, try each of its items again in a transaction of its own,
    # so that one item's failure (a constraint it breaks) is its own only.
    retry_alone = False

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._waiting: list[_Waiting[Item, Outcome]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def write_batch(self, db: AsyncSession, items: list[Item]) -> list[Outcome]:
        """Add `items` to `db`'s transaction (not committed); their outcomes, in order."""
        raise NotImplementedError

    def after_commit(self, db: AsyncSession) -> None:
        """Called once a batch has committed, before its requests are released."""

    async def after_batch(self, items: list[Item], outcomes: list[Outcome]) -> None:
        """Awaited once a batch has committed, before its requests are released; what it
        raises is logged, not given to them (their writes are committed)."""

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """After the last request: write what is still waiting, then end."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        await self._task

    async def submit(self, item: Item) -> Outcome:
        if self._task is None or self._task.done():
            raise RuntimeError(f"the {self.name} is not running")
        waiting = _Waiting[Item, Outcome](item, asyncio.get_running_loop().create_future())
        # Its failure is retrieved even when the request has gone (no "never retrieved" noise).
        waiting.committed.add_done_callback(retrieve_failure)
        self._waiting.append(waiting)
        self._wake.set()
        # Shielded: a client that leaves does not take its item out of the batch.
        return await asyncio.shield(waiting.committed)

    def waiting(self) -> int:
        """How many items are handed over and not yet taken into a batch."""
        return len(self._waiting)

    def _take(self) -> list[_Waiting[Item, Outcome]]:
        batch, self._waiting = self._waiting, []
        self._wake.clear()
        return batch

    async def _run(self) -> None:
        while not (self._stopping and not self._waiting):
            await self._wake.wait()
            await self._commit(self._take())

    async def _commit(self, batch: list[_Waiting[Item, Outcome]]) -> None:
        if not batch:
            return
        try:
            async with self._sessionmaker() as db:
                outcomes = await self.write_batch(db, [waiting.item for waiting in batch])
                await db.commit()
                self.after_commit(db)
        except Exception as error:
            if self.retry_alone and len(batch) > 1:
                for waiting in batch:
                    await self._commit([waiting])
                return
            # Every request of the batch fails as its own commit would have: none is answered.
            log.warning("%s of %d item(s) failed: %s", self.name, len(batch), error)
            for waiting in batch:
                if not waiting.committed.done():
                    waiting.committed.set_exception(error)
            return
        try:
            await self.after_batch([waiting.item for waiting in batch], outcomes)
        except Exception:
            log.exception("%s: after its commit", self.name)
        for waiting, outcome in zip(batch, outcomes, strict=True):
            if not waiting.committed.done():
                waiting.committed.set_result(outcome)


def retrieve_failure(committed: "asyncio.Future[Any]") -> None:
    """A done callback: a failure is retrieved though nobody awaits it (no \"never retrieved\"
    noise in the log)."""
    if not committed.cancelled():
        committed.exception()


@dataclass(slots=True)
class _AuditItem:
    rows: list[AuditValues]
    touches: list[dict[str, object]]  # {"id": session id, "last_seen_at": when}


class AuditWriter(GroupCommit[_AuditItem, None]):
    """The audit events of reads, in shared transactions."""

    name = "audit group commit"

    async def write(
        self, events: list[AuditValues], touch: tuple[str, datetime] | None = None
    ) -> None:
        """Commit `events`, and a session's new last-seen time (`touch`: its id, the time)."""
        if not events and touch is None:
            return
        touches: list[dict[str, object]] = []
        if touch is not None:
            touches.append({"id": touch[0], "last_seen_at": touch[1]})
        await self.submit(_AuditItem(events, touches))

    async def write_batch(self, db: AsyncSession, items: list[_AuditItem]) -> list[None]:
        rows = [row for item in items for row in item.rows]
        if rows:
            await AUDIT_INSERT.run(db, rows)
        touches = [touch for item in items for touch in item.touches]
        if touches:  # by primary key, one statement for all
            await db.execute(update(SessionRow), touches)
        return [None] * len(items)
