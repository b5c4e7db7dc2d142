"""One x-ray in the viewer, with its details, the doctor's result and the DICOM tags beside it."""

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QLabel,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.drafts import Draft
from desktop.http import ApiError
from desktop.images import ViewerData
from desktop.live import Follower
from desktop.models.paged import display
from desktop.operations import imaging as imaging_ops
from desktop.operations import xrays as xray_ops
from desktop.roles import is_staff
from desktop.runner import Task
from desktop.session import Session
from desktop.viewer.panel import XRayViewerPanel
from desktop.widgets.compare import CompareWindow
from desktop.widgets.dicom_tags import DicomTagPanel
from desktop.widgets.forms import clear_errors, error_label, set_message, show_error
from desktop.xrays.result import ResultPanel
from shared.enums import EventType
from shared.models import Event, XRay

# How a person calls a file's kind (not its MIME type).
FILE_KINDS = {"application/dicom": "DICOM", "image/png": "PNG", "image/jpeg": "JPEG"}


class XRayDetail(QWidget):
    """The viewer, with the x-ray's details, the doctor's result and the DICOM tags beside it."""

    updated = Signal(object)
    shown = Signal(object)  # an x-ray the user now sees (its current state)

    def __init__(
        self, session: Session, can_write_result: bool, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._session = session
        self._can_write_result = can_write_result
        self.xray: XRay | None = None
        self.data: ViewerData | None = None
        self._load: Task | None = None
        self.compare_window: CompareWindow | None = None
        self.panel = XRayViewerPanel(
            self, can_annotate=can_write_result, for_reading=is_staff(session.user)
        )
        self.title = QLabel("", self)
        self.title.setStyleSheet("font-weight: bold; font-size: 14px;")
        self.title.setWordWrap(True)
        self.facts = QLabel("", self)
        self.facts.setWordWrap(True)
        self.facts.setStyleSheet("color: gray;")
        self.description = QLabel("", self)
        self.description.setWordWrap(True)
        # What the DICOM file says against the account it is filed under (staff only).
        self.identity_warning = QLabel("", self)
        self.identity_warning.setWordWrap(True)
        self.identity_warning.setAccessibleName("Identity warning")
        self.identity_warning.setStyleSheet(
            "background: #fff3c4; color: #5c4400; padding: 6px; border: 1px solid #e0c060;"
        )
        self.identity_warning.setVisible(False)
        self.result = ResultPanel(session, can_write_result, self)
        self.result.updated.connect(self._result_updated)
        changes = (EventType.xray_signed, EventType.xray_amended)
        Follower(session.live, changes, self._changed_on_server, self)
        self.save_marks_button = QPushButton("Save marks", self)
        self.save_marks_button.setShortcut(QKeySequence.StandardKey.Save)
        self.save_marks_button.setToolTip("Save the measurements and marks (Ctrl+S)")
        self.save_marks_button.setVisible(can_write_result)
        self.save_marks_button.setEnabled(False)
        self.save_marks_button.clicked.connect(self.save_marks)
        self.compare_button = QPushButton("Compare…", self)
        self.compare_button.setToolTip("Show this x-ray beside another of the same patient")
        self.compare_button.clicked.connect(self.open_compare)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        self.error = error_label(self)
        self.tags = DicomTagPanel(self)
        self.panel.annotations_edited.connect(self._marks_edited)

        result_page = QWidget(self)
        result_layout = QVBoxLayout(result_page)
        result_layout.addWidget(self.title)
        result_layout.addWidget(self.facts)
        result_layout.addWidget(self.description)
        result_layout.addWidget(self.identity_warning)
        result_layout.addWidget(QLabel("<b>Result</b>", result_page))
        result_layout.addWidget(self.result, 1)
        result_layout.addWidget(self.save_marks_button)
        result_layout.addWidget(self.compare_button)
        result_layout.addWidget(self.status)
        result_layout.addWidget(self.error)
        self.side = QTabWidget(self)
        self.side.addTab(result_page, "Result")
        self.side.addTab(self.tags, "DICOM tags")
        self.side.setMinimumWidth(220)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self.panel)
        splitter.addWidget(self.side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self.show_xray(None)

    def show_xray(self, xray: XRay | None) -> None:
        if self._load is not None:
            self._load.cancel()
            self._load = None
        self.xray = xray
        self.data = None
        set_message(self.error, "")
        self.status.setText("")
        self.compare_button.setEnabled(xray is not None)
        self.save_marks_button.setEnabled(False)
        self.tags.set_tags([])
        if xray is None:
            self.panel.clear()
            self.title.setText("No x-ray selected")
            self.facts.setText("")
            self.description.setText("")
            self.identity_warning.setVisible(False)
            self.result.show_xray(None)
            return
        self._show_fields(xray)
        self.shown.emit(xray)
        self._marks_allowed(xray)
        self.panel.clear()
        self.panel.show_loading(0, 0)
        self._load = imaging_ops.load(
            self._session, xray, self._loaded, lambda error: self.panel.show_message(error.detail)
        )
        self._load.progressed.connect(self.panel.show_loading)

    def _show_fields(self, xray: XRay) -> None:
        self.title.setText(xray.name_of_xray)
        kind = FILE_KINDS.get(xray.content_type, "image")
        study = f"study of {xray.study_date.isoformat()} · " if xray.study_date else ""
        self.facts.setText(
            f"{xray.type_of_xray.value} · {xray.width}×{xray.height} {kind} · "
            f"{study}added {display(xray.created_at)}"
        )
        self.description.setText(xray.description_of_xray or "")
        warnings = xray.identity_warnings
        self.identity_warning.setText(
            "⚠ Check the patient: " + " ".join(warnings) if warnings else ""
        )
        self.identity_warning.setVisible(bool(warnings))
        self.result.show_xray(xray)

    def refresh_xray(self, xray: XRay) -> None:
        """The shown x-ray changed on the server (a live event): show its new result and
        status, keeping the image, the marks being drawn and any text being typed."""
        if self.xray is None or self.xray.id != xray.id:
            return
        self.xray = xray
        self.result.show_xray(xray, keep_typing=True)
        self.shown.emit(xray)
        self._marks_allowed(xray)

    def _changed_on_server(self, event: Event | None) -> None:
        xray = self.xray
        if xray is None or (event is not None and event.object_id != xray.id):
            return
        xray_ops.one(self._session, xray.id, self.refresh_xray, lambda _error: None)

    def _result_updated(self, xray: XRay) -> None:
        self.xray = xray
        self._marks_allowed(xray)
        self.updated.emit(xray)

    def _marks_allowed(self, xray: XRay) -> None:
        allowed = self._can_write_result and not xray.result_final
        self.panel.set_can_annotate(allowed)
        self.save_marks_button.setVisible(allowed)

    def _loaded(self, data: ViewerData) -> None:
        self._load = None
        self.data = data
        xray = self.xray
        patient = self._session.name(xray.user_id, "") if xray else ""
        title = " — ".join(part for part in (patient, xray.name_of_xray if xray else "") if part)
        self.panel.show_image(data.image, title)
        self.tags.set_tags(data.image.metadata.tags if data.image.metadata else [])
        xray_id = self.xray.id if self.xray else 0
        draft = self._session.drafts.get(("marks", xray_id))
        if draft is not None:
            self.panel.set_annotations(*draft.value)
            self.save_marks_button.setEnabled(True)
            self.status.setText("Your unsaved marks on this film are back; they are not saved yet.")
            return
        self.panel.set_annotations(
            data.annotations.annotations, data.annotations.calibration_mm_per_pixel
        )
        self.save_marks_button.setEnabled(False)
        self.status.setText("Shown from the local cache." if data.from_cache else "")

    def _marks_edited(self) -> None:
        xray = self.xray
        if xray is None:
            return
        self.save_marks_button.setEnabled(True)
        self.status.setText("The marks have unsaved changes (kept while you look at other films).")
        viewer, session, key = self.panel.viewer, self._session, ("marks", xray.id)
        marks = (viewer.annotations(), viewer.calibration_mm_per_pixel)

        def save() -> Task:
            return imaging_ops.save_marks(
                session, xray.id, *marks, lambda _saved: session.drafts.drop(key), lambda _e: None
            )

        session.drafts.keep(key, Draft(f"the marks on “{xray.name_of_xray}”", marks, save))

    def save_marks(self) -> None:
        xray = self.xray
        if xray is None or not self._can_write_result:
            return
        viewer = self.panel.viewer
        annotations, calibration = viewer.annotations(), viewer.calibration_mm_per_pixel
        self.save_marks_button.setEnabled(False)

        self.status.setText("")

        def saved(_result: object) -> None:
            self._session.drafts.drop(("marks", xray.id))
            clear_errors(self.error)
            self.status.setText("Marks saved.")

        def failed(error: ApiError) -> None:
            self.save_marks_button.setEnabled(True)
            show_error(error, self.error)

        imaging_ops.save_marks(self._session, xray.id, annotations, calibration, saved, failed)

    def open_compare(self) -> None:
        xray, session = self.xray, self._session
        if xray is None:
            return

        def show(xrays: list[XRay]) -> None:
            self.compare_window = CompareWindow(session, xrays, xray)
            self.compare_window.show()

        xray_ops.every_of_patient(
            session, xray.user_id, show, lambda error: show_error(error, self.error)
        )
