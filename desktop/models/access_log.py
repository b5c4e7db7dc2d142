"""The trail in words: who did what to which record (for the patient's Privacy tab, grouped by
person, object and day; for the admin's Audit tab, one line per event)."""

from dataclasses import dataclass
from datetime import date
from typing import Any

from PySide6.QtCore import QObject, Qt

from desktop.models.paged import Column, PagedTableModel, Submit
from shared.base import Page
from shared.enums import AuditAction, AuditObjectType, AuditOutcome
from shared.models import AuditEvent

VERBS = {
    AuditAction.read: "looked at",
    AuditAction.create: "added",
    AuditAction.update: "changed",
    AuditAction.delete: "deleted",
    AuditAction.login: "logged in",
    AuditAction.logout: "logged out",
}
FILMS = (AuditObjectType.xray, AuditObjectType.xray_image, AuditObjectType.xray_thumbnail)


def who(event: AuditEvent) -> str:
    if event.actor_name is None:
        return "Someone not logged in" if event.actor_id is None else f"Account #{event.actor_id}"
    role = f" ({event.actor_role.value})" if event.actor_role is not None else ""
    return f"{event.actor_name}{role}"


def thing(event: AuditEvent, owner: str = "your") -> str:
    """The record, as its owner calls it: "your x-ray “Chest PA”"."""
    name = f" “{event.object_name}”" if event.object_name else ""
    kind = event.object_type
    if kind in FILMS:
        return f"{owner} x-ray{name}" if event.object_id else f"{owner} x-rays"
    if kind == AuditObjectType.question:
        return f"{owner} question{name}" if event.object_id else f"{owner} questions"
    if kind == AuditObjectType.response:
        return "an answer to a question"
    if kind == AuditObjectType.medical_history:
        return f"{owner} medical history" + (f" entry{name}" if event.object_id else "")
    if kind == AuditObjectType.user:
        return f"{owner} account" if owner == "your" else f"the account{name}"
    return kind.value.replace("_", " ")


def what(event: AuditEvent, owner: str = "your") -> str:
    """What happened, in words: "looked at your x-ray “Chest PA”", "approved the account
    “Dr. Henry”", "tried to open your question “…” and was refused"."""
    if event.outcome == AuditOutcome.denied:
        return f"tried to open {thing(event, owner)} and was refused"
    if event.outcome == AuditOutcome.error:
        return f"tried to use {thing(event, owner)}; the server failed"
    if event.action in (AuditAction.login, AuditAction.logout):
        return VERBS[event.action]
    verb = event.detail if event.detail else VERBS[event.action]
    return f"{verb} {thing(event, owner)}"


@dataclass(slots=True)
class AccessGroup:
    """One person's accesses to one record on one day."""

    day: date
    who: str
    what: str
    times: int


def _group_key(event: AuditEvent) -> tuple[Any, ...]:
    # A film's image, thumbnail and details are one film to its owner.
    kind = "film" if event.object_type in FILMS else event.object_type
    return (event.at.astimezone().date(), event.actor_id, kind, event.object_id, event.outcome)


class AccessLogModel(PagedTableModel[AccessGroup]):
    """A patient's access log, a line per person, record and day, with how many times."""

    def __init__(self, submit: Submit, parent: QObject | None = None) -> None:
        columns = [
            Column[AccessGroup]("Day", lambda g: g.day.isoformat()),
            Column[AccessGroup]("Who", lambda g: g.who),
            Column[AccessGroup]("Times", lambda g: g.times),
            Column[AccessGroup]("What", lambda g: g.what),  # last: it takes the width
        ]
        super().__init__(submit, columns, parent)
        self._rows_by_key: dict[tuple[Any, ...], int] = {}

    def reload(self) -> None:
        self._rows_by_key = {}
        super().reload()

    def add_page(self, page: Page[Any]) -> None:
        """Fold a page of events into the groups (pages come newest first)."""
        new: list[AccessGroup] = []
        for event in page.items:
            key = _group_key(event)
            row = self._rows_by_key.get(key)
            if row is not None and row < len(self._items):
                self._items[row].times += 1
                index = self.index(row, 2)
                self.dataChanged.emit(index, index, [Qt.ItemDataRole.DisplayRole])
                continue
            if row is not None:  # a group made from this very page
                new[row - len(self._items)].times += 1
                continue
            self._rows_by_key[key] = len(self._items) + len(new)
            new.append(AccessGroup(key[0], who(event), what(event), 1))
        super().add_page(Page[AccessGroup](items=new, next_cursor=page.next_cursor))
