"""A patient's x-rays as a list model, with their thumbnails as decoration."""

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QLabel,
    QListView,
    QVBoxLayout,
    QWidget,
)

from desktop.live import Follower
from desktop.models.paged import Column, PagedTableModel, display
from desktop.operations import xrays as xray_ops
from desktop.session import Session
from desktop.widgets.forms import error_label, set_message
from shared.enums import EventType, ResultStatus
from shared.models import Event, XRay

Index = QModelIndex | QPersistentModelIndex


TILE_SIZE = QSize(156, 190)
XRAY_EVENTS = (EventType.xray_created, EventType.xray_signed, EventType.xray_amended)


def tile_text(xray: XRay) -> str:
    """What a tile says: the film, when, and whether its result is ready."""
    state = "result ready" if xray.result_final else "awaiting result"
    if not xray.result_final and xray.result_status == ResultStatus.preliminary:
        state = "preliminary result"  # only staff see preliminaries
    return f"{xray.name_of_xray}\n{display(xray.created_at)[:10]} · {state}"


class XRayModel(PagedTableModel[XRay]):
    """X-rays with their thumbnails as decoration, fetched as the rows arrive."""

    def __init__(self, session: Session) -> None:
        super().__init__(
            session.submit,
            [Column("X-ray", tile_text)],
        )
        self._session = session
        self._icons: dict[int, QIcon] = {}
        self.rowsInserted.connect(self._fetch_thumbnails)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DecorationRole and index.isValid():
            return self._icons.get(self.item(index.row()).id)
        if role == Qt.ItemDataRole.ToolTipRole and index.isValid():
            xray = self.item(index.row())
            return f"{xray.name_of_xray} ({xray.type_of_xray.value}, {xray.width}×{xray.height})"
        if role == Qt.ItemDataRole.SizeHintRole:
            # The whole tile, not only the picture and its text, takes the click.
            return TILE_SIZE - QSize(8, 8)
        return super().data(index, role)

    def _fetch_thumbnails(self, _parent: QModelIndex, first: int, last: int) -> None:
        for row in range(first, last + 1):
            self._fetch_thumbnail(self.item(row))

    def _fetch_thumbnail(self, xray: XRay) -> None:
        xray_ops.thumbnail(self._session, xray, lambda data: self._set_icon(xray.id, data))

    def _set_icon(self, xray_id: int, data: bytes) -> None:
        pixmap = QPixmap()
        pixmap.loadFromData(data)
        self._icons[xray_id] = QIcon(pixmap)
        for row, xray in enumerate(self.items):
            if xray.id == xray_id:
                self.dataChanged.emit(
                    self.index(row, 0), self.index(row, 0), [Qt.ItemDataRole.DecorationRole]
                )

    def has_thumbnail(self, xray_id: int) -> bool:
        return xray_id in self._icons


class XRayGallery(QWidget):
    """A grid of thumbnails; double-click or Enter opens one."""

    opened = Signal(object)
    selected = Signal(object)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = XRayModel(session)
        self.patient_id: int | None = None
        Follower(session.live, XRAY_EVENTS, self._changed, self)
        self.view = QListView(self)
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setIconSize(QSize(128, 128))
        self.view.setGridSize(TILE_SIZE)
        self.view.setUniformItemSizes(True)
        self.view.setAccessibleName("X-rays")
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setWordWrap(True)
        self.view.setModel(self.model)
        self.view.activated.connect(lambda index: self.opened.emit(self.model.item(index.row())))
        self.view.doubleClicked.connect(
            lambda index: self.opened.emit(self.model.item(index.row()))
        )
        self.view.selectionModel().currentChanged.connect(
            lambda index, _previous: self.selected.emit(
                self.model.item(index.row()) if index.isValid() else None
            )
        )
        self.error = error_label(self)
        self.model.failed.connect(
            lambda error: set_message(self.error, getattr(error, "detail", str(error)))
        )
        self.empty_label = QLabel("No x-rays yet.", self)
        self.empty_label.setStyleSheet("color: gray;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.error)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.empty_label)
        signals = (
            self.model.modelReset,
            self.model.rowsInserted,
            self.model.rowsRemoved,
            self.model.loading_changed,
        )
        for signal in signals:
            signal.connect(self._update_empty)

    def _update_empty(self) -> None:
        self.empty_label.setVisible(self.model.rowCount() == 0 and not self.model.is_loading)

    def show_patient(self, session: Session, patient_id: int | None) -> None:
        self.patient_id = patient_id
        if patient_id is None:
            self.model.clear()
            return
        self.model.set_fetcher(xray_ops.of_patient(session, patient_id))

    def _changed(self, event: Event | None) -> None:
        if self.patient_id is not None and (event is None or event.patient_id == self.patient_id):
            self.model.refresh()

    def current(self) -> XRay | None:
        index = self.view.currentIndex()
        return self.model.item(index.row()) if index.isValid() else None
