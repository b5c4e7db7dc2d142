"""Announcing a change: an event row written in the change's own transaction.

Ids must reach clients in commit order (a client resumes "after N"): on PostgreSQL, writers
take one transaction-level advisory lock before inserting their events, so transactions that
announce something commit one after the other, in id order. SQLite has one writer anyway.
A NOTIFY in the same transaction wakes every process's hub when (and only if) it commits.
"""

from typing import cast

from sqlalchemy import Table, insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import column_values
from server.orm import EventRow
from shared.enums import EventType

CHANNEL = "medsys_events"
# Any 64-bit number of our own: the advisory lock that orders announcing transactions.
ORDER_LOCK = 7_301_994_022
EVENTS = cast(Table, EventRow.__table__)


async def announce(
    db: AsyncSession,
    event_type: EventType,
    object_type: str,
    object_id: int,
    patient_id: int | None,
    *,
    doctor_id: int | None = None,
    all_doctors: bool = False,
    to_patient: bool = False,
    to_admins: bool = False,
) -> None:
    """Add the event to the session's transaction (committed, or not, with the change)."""
    event = EventRow(
        type=event_type,
        object_type=object_type,
        object_id=object_id,
        patient_id=patient_id,
        doctor_id=doctor_id,
        all_doctors=all_doctors,
        to_patient=to_patient,
        to_admins=to_admins,
    )
    await announce_all(db, [event])


async def announce_all(db: AsyncSession, events: list[EventRow]) -> None:
    """Add the events (new, not added to `db`) to the session's transaction: one insert,
    and one NOTIFY for them all (the hubs read every event past the last they have; the
    payload is only for a reader)."""
    if not events:
        return
    postgres = db.get_bind().dialect.name == "postgresql"
    if postgres:
        await db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ORDER_LOCK})
    # One statement for all: a flush inserts them one each on SQLite (see insert_new).
    inserted = await db.execute(
        insert(EVENTS).returning(EVENTS.c.id), [column_values(event) for event in events]
    )
    ids = sorted(inserted.scalars())
    if postgres:
        notify = text("SELECT pg_notify(:channel, :id)")
        await db.execute(notify, {"channel": CHANNEL, "id": str(ids[-1])})
    else:
        db.info.setdefault("announced", []).extend(ids)
