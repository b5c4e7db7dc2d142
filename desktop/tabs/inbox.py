"""The admin's inbox: films that arrived over DICOM whose PatientID matched no patient. See
the film and what the file says of its patient, find the patient, assign it, or discard it."""

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop.http import ApiError
from desktop.models.paged import Column, PagedTableModel, display
from desktop.operations import inbox as inbox_ops
from desktop.session import Session
from desktop.widgets.confirm import confirm
from desktop.widgets.forms import error_label, show_error
from desktop.widgets.lazy import when_first_shown
from desktop.widgets.patients import PatientPicker
from desktop.widgets.tables import ListPanel
from shared.models import UnmatchedInstance, User, XRay

INBOX_COLUMNS = [
    Column[UnmatchedInstance]("Received", lambda e: e.received_at),
    Column[UnmatchedInstance]("Patient ID in file", lambda e: e.patient_id_in_file),
    Column[UnmatchedInstance]("Name in file", lambda e: _name(e.patient_name_in_file)),
    Column[UnmatchedInstance]("Study date", lambda e: e.study_date),
    Column[UnmatchedInstance]("Modality", lambda e: e.modality),
    Column[UnmatchedInstance]("From", lambda e: e.source),
]


def _name(dicom_name: str | None) -> str:
    """A DICOM person name (Family^Given) as people write it."""
    return " ".join(part for part in (dicom_name or "").split("^") if part)


class InboxTab(QWidget):
    def __init__(self, session: Session) -> None:
        super().__init__()
        self._session = session
        self.entry: UnmatchedInstance | None = None
        self.patient: User | None = None
        self.model = PagedTableModel[UnmatchedInstance](session.submit, INBOX_COLUMNS, self)
        self.list = ListPanel(self.model, "Filter the inbox…", self)
        self.picture = QLabel("Select a film.", self)
        self.picture.setAccessibleName("The film")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setMinimumSize(160, 160)
        self.facts = QLabel("", self)
        self.facts.setWordWrap(True)
        self.picker = PatientPicker(session, self)
        self.assign_button = QPushButton("Assign to the selected patient", self)
        self.discard_button = QPushButton("Discard…", self)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        self.error = error_label(self)
        buttons = QHBoxLayout()
        buttons.addWidget(self.assign_button)
        buttons.addWidget(self.discard_button)
        right = QWidget(self)
        column = QVBoxLayout(right)
        film = QHBoxLayout()
        film.addWidget(self.picture)
        film.addWidget(self.facts, 1)
        column.addLayout(film)
        column.addWidget(QLabel("<b>Whose film is it?</b>", right))
        column.addWidget(self.picker, 1)
        column.addLayout(buttons)
        column.addWidget(self.status)
        column.addWidget(self.error)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self.list)
        splitter.addWidget(right)
        splitter.setSizes([600, 600])
        QVBoxLayout(self).addWidget(splitter)
        self.list.selected.connect(self.show_entry)
        self.picker.picked.connect(self._picked)
        self.assign_button.clicked.connect(self.assign)
        self.discard_button.clicked.connect(self.ask_to_discard)
        self.show_entry(None)
        when_first_shown(self, lambda: self.model.set_fetcher(inbox_ops.entries(session)))

    def show_entry(self, entry: UnmatchedInstance | None) -> None:
        self.entry = entry
        self.picture.setPixmap(QPixmap())
        self.picture.setText("Select a film." if entry is None else "Loading…")
        self.discard_button.setEnabled(entry is not None)
        self._update_assign()
        if entry is None:
            self.facts.setText("")
            return
        self.status.setText("")
        born = f"born {entry.birth_date_in_file} · " if entry.birth_date_in_file else ""
        self.facts.setText(
            f"<b>{_name(entry.patient_name_in_file) or 'No name in the file'}</b><br>"
            f"Patient ID {entry.patient_id_in_file or '(none)'} · {born}"
            f"{entry.modality or ''} {entry.body_part or ''}<br>"
            f"{entry.description or ''}<br>"
            f"Study {display(entry.study_date) or 'date unknown'} · {entry.width}×{entry.height}"
            f"<br><span style='color:gray'>{entry.source}</span>"
        )
        inbox_ops.thumbnail(self._session, entry, lambda data: self._show_picture(entry, data))

    def _show_picture(self, entry: UnmatchedInstance, data: bytes) -> None:
        if self.entry is not entry:
            return
        pixmap = QPixmap()
        pixmap.loadFromData(data)
        self.picture.setPixmap(pixmap)

    def _picked(self, patient: User | None) -> None:
        self.patient = patient
        self._update_assign()

    def _update_assign(self) -> None:
        patient = self.patient
        self.assign_button.setEnabled(self.entry is not None and patient is not None)
        self.assign_button.setText(
            f"Assign to {patient.full_name}" if patient else "Assign to the selected patient"
        )

    def assign(self) -> None:
        entry, patient = self.entry, self.patient
        if entry is None or patient is None:
            return
        self.assign_button.setEnabled(False)

        def assigned(xray: XRay) -> None:
            self._gone(f"Filed as “{xray.name_of_xray}” under {patient.full_name}.")

        inbox_ops.assign(self._session, entry.id, patient.id, assigned, self._failed)

    def ask_to_discard(self) -> None:
        entry = self.entry
        if entry is None:
            return

        def discard() -> None:
            def discarded(_result: object) -> None:
                self._gone("The film was discarded.")

            inbox_ops.discard(self._session, entry.id, discarded, self._failed)

        self.confirm_box = confirm(
            self,
            "Discard this film?",
            "The film is removed for good: it belongs to no patient here.",
            discard,
            yes_text="Discard",
        )

    def _gone(self, outcome: str) -> None:
        """The shown entry was assigned or discarded: it leaves the list, and nothing else is
        selected in its place (the next film is the admin's to choose)."""
        gone = self.entry.id if self.entry is not None else None
        self.list.table.setCurrentIndex(QModelIndex())
        self.model.merge([entry for entry in self.model.items if entry.id != gone])
        self.show_entry(None)
        self.status.setText(outcome)

    def _failed(self, error: ApiError) -> None:
        self._update_assign()
        show_error(error, self.error)
