"""What a user typed and has not saved yet, kept per object for the session.

A result half-written for one film stays while the doctor looks at another; an answer or a
question survives switching tabs. Drafts live in memory only: nothing typed about a patient is
written to the disk of a shared workstation. Each draft knows how to save itself, so leaving
the window can offer "Save all".
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal

from desktop.runner import Task

# ("result", xray id), ("marks", xray id), ("answer", question id), ("question", 0)
DraftKey = tuple[str, int]


@dataclass(slots=True)
class Draft:
    description: str  # for the person: "the result of “Chest PA”"
    value: Any  # the text, or the marks
    save: Callable[[], Task]  # saves it; the draft is dropped when the save succeeds


class Drafts(QObject):
    """The session's unsaved work. `changed` tells a window to update what it shows."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._drafts: dict[DraftKey, Draft] = {}

    def keep(self, key: DraftKey, draft: Draft) -> None:
        self._drafts[key] = draft
        self.changed.emit()

    def drop(self, key: DraftKey) -> None:
        if self._drafts.pop(key, None) is not None:
            self.changed.emit()

    def get(self, key: DraftKey) -> Draft | None:
        return self._drafts.get(key)

    def all(self) -> list[Draft]:
        return list(self._drafts.values())

    def __len__(self) -> int:
        return len(self._drafts)

    def clear(self) -> None:
        self._drafts.clear()
        self.changed.emit()
