"""Films to read: every patient's x-rays whose result is not signed, oldest first, each
opened straight into the viewer with the result editor beside it."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QSplitter, QVBoxLayout, QWidget

from desktop.live import Follower
from desktop.models.paged import Column, PagedTableModel
from desktop.operations import xrays as xray_ops
from desktop.roles import writes_results
from desktop.session import Session
from desktop.widgets.lazy import when_first_shown
from desktop.widgets.tables import ListPanel
from desktop.xrays.detail import XRayDetail
from shared.enums import EventType, ResultStatus
from shared.models import WorklistItem

WORKLIST_COLUMNS = [
    Column[WorklistItem]("Arrived", lambda x: x.created_at),
    Column[WorklistItem]("Patient", lambda x: x.patient_name),
    Column[WorklistItem]("X-ray", lambda x: x.name_of_xray),
    Column[WorklistItem]("Type", lambda x: x.type_of_xray.value),
    Column[WorklistItem](
        "Result",
        lambda x: "preliminary" if x.result_status == ResultStatus.preliminary else "not started",
    ),
]
# What changes the worklist: a film arrives, a result is signed (it leaves the list).
WORKLIST_EVENTS = (EventType.xray_created, EventType.xray_signed, EventType.xray_amended)


class WorklistTab(QWidget):
    def __init__(self, session: Session) -> None:
        super().__init__()
        self._session = session
        self.model = PagedTableModel[WorklistItem](session.submit, WORKLIST_COLUMNS, self)
        self.list = ListPanel(self.model, "Filter the films to read…", self)
        self.status_combo = QComboBox(self)
        self.status_combo.setAccessibleName("Result status")
        for label, status in (
            ("Every unsigned film", None),
            ("Not started", ResultStatus.none.value),
            ("Preliminary", ResultStatus.preliminary.value),
        ):
            self.status_combo.addItem(label, status)
        self.status_combo.currentIndexChanged.connect(self.reload)
        self.list.header.addWidget(self.status_combo)
        self.detail = XRayDetail(
            session, can_write_result=writes_results(session.user), parent=self
        )
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self.list)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([300, 900])
        QVBoxLayout(self).addWidget(splitter)
        self.list.selected.connect(self._open)
        self.detail.updated.connect(lambda _xray: self.model.refresh())
        Follower(session.live, WORKLIST_EVENTS, lambda _event: self.model.refresh(), self)
        when_first_shown(self, self.reload)

    def reload(self) -> None:
        status = self.status_combo.currentData()
        self.model.set_fetcher(xray_ops.worklist(self._session, status))

    def _open(self, item: WorklistItem | None) -> None:
        # A signed film leaves the list; the doctor keeps reading what they signed.
        if item is None:
            return
        self._session.names[item.user_id] = item.patient_name
        if self.detail.xray is None or self.detail.xray.id != item.id:
            self.detail.show_xray(item)

    def open_xray_id(self, xray_id: int) -> None:
        """Open a film by id (a notification's click): select it in the list when it is
        there, and show it beside in any case."""
        if any(item.id == xray_id for item in self.model.items):
            self.list.select_id(xray_id)
            return
        xray_ops.one(self._session, xray_id, self.detail.show_xray, lambda _error: None)
