"""The audit trail (admins) and a patient's access log."""

import asyncio
import csv
from pathlib import Path

from desktop.api import AuditFilters, all_pages
from desktop.models.access_log import what, who
from desktop.models.paged import PageFetcher, display
from desktop.operations import OnError, OnSuccess, call
from desktop.runner import Task
from desktop.session import Session
from shared.models import AuditEvent, User

CSV_COLUMNS = (
    "when",
    "who",
    "role",
    "what",
    "patient",
    "outcome",
    "address",
    "event id",
    "actor id",
    "object type",
    "object id",
    "patient id",
)


def trail(session: Session, filters: AuditFilters) -> PageFetcher:
    return lambda cursor: session.api.audit(filters, cursor)


def access_log(session: Session) -> PageFetcher:
    return session.api.access_log


def find_people(session: Session, text: str, on_success: OnSuccess, on_error: OnError) -> Task:
    """The accounts whose name, email or phone matches `text` (the first page)."""

    async def people() -> list[User]:
        return list((await session.api.users(None, None, text)).items)

    return call(session, people, on_success, on_error)


def _csv_row(event: AuditEvent) -> list[object]:
    return [
        display(event.at),
        who(event),
        event.actor_role.value if event.actor_role else "",
        what(event, owner="the"),
        event.patient_name or "",
        event.outcome.value,
        event.ip or "",
        event.id,
        event.actor_id or "",
        event.object_type.value,
        event.object_id or "",
        event.patient_id or "",
    ]


def _write_csv(path: Path, events: list[AuditEvent]) -> int:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(_csv_row(event) for event in events)
    return len(events)


def export_csv(
    session: Session, filters: AuditFilters, path: Path, on_success: OnSuccess, on_error: OnError
) -> Task:
    """Every event the filters select, written to `path` as CSV; succeeds with the count."""

    async def export() -> int:
        events = await all_pages(lambda cursor: session.api.audit(filters, cursor))
        return await asyncio.to_thread(_write_csv, path, events)

    return call(session, export, on_success, on_error)
