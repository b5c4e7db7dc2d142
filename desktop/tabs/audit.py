"""The admin's audit trail: every read and change of patient data and accounts, in words,
filtered by who, whose, what and when; exported to CSV."""

from datetime import date
from functools import partial
from pathlib import Path

from PySide6.QtCore import QDate
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.api import AuditFilters
from desktop.http import ApiError
from desktop.models.access_log import what, who
from desktop.models.paged import Column, PagedTableModel
from desktop.operations import audit as audit_ops
from desktop.session import Session
from desktop.widgets.forms import error_label, set_message
from desktop.widgets.lazy import when_first_shown
from desktop.widgets.tables import ListPanel
from shared.enums import AuditAction
from shared.models import AuditEvent, User

COLUMNS = [
    Column[AuditEvent]("When", lambda e: e.at),
    Column[AuditEvent]("Who", who),
    Column[AuditEvent]("What", lambda e: what(e, owner="the")),
    Column[AuditEvent]("Patient", lambda e: e.patient_name or ""),
    Column[AuditEvent]("Outcome", lambda e: e.outcome.value),
    Column[AuditEvent]("Address", lambda e: e.ip),
]


class AuditTab(QWidget):
    """The audit trail, newest first."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self._session = session
        self.filters = AuditFilters()
        self.model = PagedTableModel[AuditEvent](session.submit, COLUMNS, self)
        self.list = ListPanel(self.model, "Filter the loaded events…", self)
        self.actor_edit = QLineEdit(self)
        self.actor_edit.setPlaceholderText("Who (name or email)")
        self.actor_edit.setAccessibleName("Only events by this person")
        self.patient_edit = QLineEdit(self)
        self.patient_edit.setPlaceholderText("Whose records (patient)")
        self.patient_edit.setAccessibleName("Only events on this patient's records")
        self.action_combo = QComboBox(self)
        self.action_combo.setAccessibleName("Only this kind of action")
        self.action_combo.addItem("Every action", None)
        for action in AuditAction:
            self.action_combo.addItem(action.value.title(), action.value)
        self.dates_check = QCheckBox("From", self)
        self.since_edit, self.until_edit = QDateEdit(self), QDateEdit(self)
        for edit, name in ((self.since_edit, "First day"), (self.until_edit, "Last day")):
            edit.setCalendarPopup(True)
            edit.setDate(QDate.currentDate())
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setAccessibleName(name)
        self.apply_button = QPushButton("Apply", self)
        self.export_button = QPushButton("Export CSV…", self)
        filters = QHBoxLayout()
        for widget in (self.actor_edit, self.patient_edit, self.action_combo, self.dates_check):
            filters.addWidget(widget)
        filters.addWidget(self.since_edit)
        filters.addWidget(QLabel("to", self))
        filters.addWidget(self.until_edit)
        filters.addWidget(self.apply_button)
        filters.addWidget(self.export_button)
        self.error = error_label(self)
        self.status = QLabel("", self)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.error)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.status)
        self.apply_button.clicked.connect(self.apply)
        self.action_combo.currentIndexChanged.connect(self.apply)
        for name_edit in (self.actor_edit, self.patient_edit):
            name_edit.returnPressed.connect(self.apply)
        self.export_button.clicked.connect(self.choose_export)
        when_first_shown(self, self.apply)

    # --- filtering ----------------------------------------------------------------------

    def apply(self) -> None:
        """Read the filters; names are looked up first (the trail is filtered by account)."""
        set_message(self.error, "")
        names = {
            "actor": self.actor_edit.text().strip(),
            "patient": self.patient_edit.text().strip(),
        }
        found: dict[str, int | None] = {}
        wanted = [role for role, text in names.items() if text]
        if not wanted:
            self._reload({})
            return

        def resolved(role: str, people: list[User]) -> None:
            if len(people) != 1:
                text = names[role]
                set_message(
                    self.error,
                    f"No one matches “{text}”."
                    if not people
                    else f"{len(people)} people match “{text}”: "
                    + ", ".join(person.full_name for person in people[:5])
                    + ". Give more of the name, or the email.",
                )
                return
            found[role] = people[0].id
            if len(found) == len(wanted):
                self._reload(found)

        def failed(error: ApiError) -> None:
            set_message(self.error, error.detail)

        for role in wanted:
            audit_ops.find_people(self._session, names[role], partial(resolved, role), failed)

    def _dates(self) -> tuple[date | None, date | None]:
        if not self.dates_check.isChecked():
            return None, None
        return self.since_edit.date().toPython(), self.until_edit.date().toPython()  # type: ignore[return-value]

    def _reload(self, people: dict[str, int | None]) -> None:
        since, until = self._dates()
        self.filters = AuditFilters(
            actor_id=people.get("actor"),
            patient_id=people.get("patient"),
            action=self.action_combo.currentData(),
            since=since,
            until=until,
        )
        self.model.set_fetcher(audit_ops.trail(self._session, self.filters))

    # --- export -------------------------------------------------------------------------

    def choose_export(self) -> None:
        dialog = QFileDialog(self, "Export the audit trail", "audit.csv", "CSV files (*.csv)")
        dialog.setObjectName("export-audit")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("csv")
        dialog.fileSelected.connect(lambda name: self.export_to(Path(name)))
        dialog.open()

    def export_to(self, path: Path) -> None:
        self.export_button.setEnabled(False)
        self.status.setText("Exporting…")

        def done(count: int) -> None:
            self.export_button.setEnabled(True)
            self.status.setText(f"Exported {count} events to {path}.")

        def failed(error: ApiError) -> None:
            self.export_button.setEnabled(True)
            self.status.setText("")
            set_message(self.error, error.detail)

        audit_ops.export_csv(self._session, self.filters, path, done, failed)
