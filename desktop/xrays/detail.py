"""One x-ray in the viewer, with its details, the doctor's result and the DICOM tags beside it."""

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.drafts import Draft
from desktop.http import ApiError
from desktop.images import ViewerData
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
from shared.models import XRay

# How a person calls a file's kind (not its MIME type).
FILE_KINDS = {"application/dicom": "DICOM", "image/png": "PNG", "image/jpeg": "JPEG"}


class XRayDetail(QWidget):
    """The viewer, with the x-ray's details, the doctor's result and the DICOM tags beside it."""

    updated = Signal(object)

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
        self.result_edit = QPlainTextEdit(self)
        self.result_edit.setAccessibleName("Result")
        self.result_edit.setTabChangesFocus(True)
        self.result_edit.setReadOnly(not can_write_result)
        self.result_edit.setPlaceholderText(
            "Write the interpretation…"
            if can_write_result
            else "The doctor has not given a final result yet."
        )
        self.final_check = QCheckBox("Final: the patient can read it", self)
        self.final_check.setVisible(can_write_result)
        self.save_button = QPushButton("Save result", self)
        self.save_button.setVisible(can_write_result)
        self.save_button.clicked.connect(self.save_result)
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
        self._filling = False  # while the fields show the server's values, edits are no drafts
        self.result_edit.textChanged.connect(self._result_edited)
        self.final_check.toggled.connect(self._result_edited)

        result_page = QWidget(self)
        result_layout = QVBoxLayout(result_page)
        result_layout.addWidget(self.title)
        result_layout.addWidget(self.facts)
        result_layout.addWidget(self.description)
        result_layout.addWidget(QLabel("<b>Result</b>", result_page))
        result_layout.addWidget(self.result_edit, 1)
        result_layout.addWidget(self.final_check)
        result_layout.addWidget(self.save_button)
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
        self.save_button.setEnabled(xray is not None)
        self.compare_button.setEnabled(xray is not None)
        self.save_marks_button.setEnabled(False)
        self.tags.set_tags([])
        if xray is None:
            self.panel.clear()
            self.title.setText("No x-ray selected")
            self.facts.setText("")
            self.description.setText("")
            self.result_edit.setPlainText("")
            self.final_check.setChecked(False)
            return
        self._show_fields(xray)
        self.panel.clear()
        self.panel.show_loading(0, 0)
        self._load = imaging_ops.load(
            self._session, xray, self._loaded, lambda error: self.panel.show_message(error.detail)
        )
        self._load.progressed.connect(self.panel.show_loading)

    def _show_fields(self, xray: XRay) -> None:
        self.title.setText(xray.name_of_xray)
        kind = FILE_KINDS.get(xray.content_type, "image")
        self.facts.setText(
            f"{xray.type_of_xray.value} · {xray.width}×{xray.height} {kind} · "
            f"added {display(xray.created_at)}"
        )
        self.description.setText(xray.description_of_xray or "")
        draft = self._session.drafts.get(("result", xray.id))
        text, final = draft.value if draft else (xray.result_of_xray or "", xray.result_final)
        self._filling = True
        self.result_edit.setPlainText(text)
        self.final_check.setChecked(final)
        self._filling = False
        if draft is not None:
            self.status.setText("Your unsaved draft of this result is back; it is not saved yet.")

    def _result_edited(self) -> None:
        xray = self.xray
        if self._filling or xray is None or not self._can_write_result:
            return
        key = ("result", xray.id)
        text, final = self.result_edit.toPlainText(), self.final_check.isChecked()
        if text.strip() == (xray.result_of_xray or "").strip() and final == xray.result_final:
            self._session.drafts.drop(key)
            return
        session = self._session

        def save() -> Task:
            return xray_ops.save_result(
                session,
                xray.id,
                text.strip() or None,
                final,
                lambda _saved: session.drafts.drop(key),
                lambda _error: None,
            )

        session.drafts.keep(key, Draft(f"the result of “{xray.name_of_xray}”", (text, final), save))

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
        if self._session.drafts.get(("result", xray_id)) is None:  # that notice stays
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

    def save_result(self) -> None:
        xray = self.xray
        if xray is None:
            return
        text = self.result_edit.toPlainText().strip() or None
        final = self.final_check.isChecked()
        self.save_button.setEnabled(False)
        self.status.setText("")  # only the outcome of this save is shown

        def saved(updated: XRay) -> None:
            self.save_button.setEnabled(True)
            self._session.drafts.drop(("result", xray.id))
            clear_errors(self.error)
            self.xray = updated
            self.status.setText("Result saved." + (" The patient can read it." if final else ""))
            self.updated.emit(updated)

        def failed(error: ApiError) -> None:
            self.save_button.setEnabled(True)
            self.status.setText("")
            show_error(error, self.error)

        xray_ops.save_result(self._session, xray.id, text, final, saved, failed)

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
