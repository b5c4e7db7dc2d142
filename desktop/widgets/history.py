"""A patient's medical history: read by the patient, kept by doctors, pruned by admins."""

from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.http import ApiError
from desktop.live import Follower
from desktop.models.paged import Column, PagedTableModel
from desktop.operations import histories as history_ops
from desktop.session import Session
from desktop.widgets.confirm import confirm
from desktop.widgets.forms import clear_errors, error_label, show_error
from desktop.widgets.tables import ListPanel
from shared.enums import EventType
from shared.models import Event, MedicalHistory

HISTORY_COLUMNS = [
    Column[MedicalHistory]("Recorded", lambda h: h.created_at),
    Column[MedicalHistory]("Surgery or treatment", lambda h: h.name_of_surgery),
    Column[MedicalHistory]("Description", lambda h: h.description_of_surgery),
]


class HistoryPanel(QWidget):
    def __init__(
        self, session: Session, *, editable: bool, deletable: bool, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._session = session
        self.patient_id: int | None = None
        self.model = PagedTableModel[MedicalHistory](session.submit, HISTORY_COLUMNS, self)
        self.list = ListPanel(self.model, "Filter the history…", self)
        Follower(session.live, [EventType.history_changed], self._changed, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        self.name_edit = QLineEdit(self)
        self.description_edit = QPlainTextEdit(self)
        self.description_edit.setAccessibleName("Description")
        self.description_edit.setTabChangesFocus(True)
        self.description_edit.setMaximumHeight(80)
        self.name_error = error_label(self)
        self.error = error_label(self)
        self.add_button = QPushButton("Add entry", self)
        self.save_button = QPushButton("Save changes", self)
        self.delete_button = QPushButton("Delete entry…", self)
        if editable:
            form = QFormLayout()
            form.addRow("Surgery or treatment", self.name_edit)
            form.addRow("", self.name_error)
            form.addRow("Description", self.description_edit)
            buttons = QHBoxLayout()
            buttons.addStretch(1)
            buttons.addWidget(self.add_button)
            buttons.addWidget(self.save_button)
            if deletable:
                buttons.addWidget(self.delete_button)
            layout.addLayout(form)
            layout.addLayout(buttons)
            layout.addWidget(self.error)
        for widget in (
            self.name_edit,
            self.description_edit,
            self.add_button,
            self.save_button,
            self.delete_button,
        ):
            widget.setVisible(editable)
        self.delete_button.setVisible(editable and deletable)
        self.add_button.clicked.connect(self.add_entry)
        self.save_button.clicked.connect(self.save_entry)
        self.delete_button.clicked.connect(self.delete_entry)
        self.list.selected.connect(self._selected)
        self._selected(None)

    def show_patient(self, patient_id: int | None) -> None:
        self.patient_id = patient_id
        if patient_id is None:
            self.model.clear()
        else:
            self.model.set_fetcher(history_ops.of_patient(self._session, patient_id))
        self._selected(None)

    def _changed(self, event: Event | None) -> None:
        if self.patient_id is not None and (event is None or event.patient_id == self.patient_id):
            self.model.refresh()

    def _selected(self, history: MedicalHistory | None) -> None:
        self.save_button.setEnabled(history is not None)
        self.delete_button.setEnabled(history is not None)
        self.add_button.setEnabled(self.patient_id is not None)
        if history is not None:
            self.name_edit.setText(history.name_of_surgery)
            self.description_edit.setPlainText(history.description_of_surgery or "")

    def _fields(self) -> tuple[str, str | None]:
        return self.name_edit.text().strip(), self.description_edit.toPlainText().strip() or None

    def _done(self, _result: object = None) -> None:
        clear_errors(self.error, {"name_of_surgery": self.name_error})
        self.name_edit.clear()
        self.description_edit.clear()
        self.model.reload()

    def _failed(self, error: ApiError) -> None:
        show_error(error, self.error, {"name_of_surgery": self.name_error})

    def add_entry(self) -> None:
        patient_id = self.patient_id
        if patient_id is None:
            return
        name, description = self._fields()
        history_ops.add(self._session, patient_id, name, description, self._done, self._failed)

    def save_entry(self) -> None:
        history = self.list.current_item()
        if history is None:
            return
        name, description = self._fields()
        history_ops.update(self._session, history.id, name, description, self._done, self._failed)

    def delete_entry(self) -> None:
        history = self.list.current_item()
        if history is None:
            return

        confirm(
            self,
            "Delete history entry",
            f"Delete “{history.name_of_surgery}” from this patient's history? It is kept for "
            "retention but no longer shown to anyone.",
            lambda: history_ops.delete(self._session, history.id, self._done, self._failed),
        )
