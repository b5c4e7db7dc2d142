"""X-rays: a thumbnail gallery, the viewer with the result beside it, and the upload queue."""

from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.http import ApiError
from desktop.images import ViewerData
from desktop.local_preview import PreviewWindow
from desktop.models.paged import Column, PagedTableModel, display
from desktop.operations import imaging as imaging_ops
from desktop.operations import xrays as xray_ops
from desktop.runner import Task
from desktop.session import Session
from desktop.viewer.panel import XRayViewerPanel
from desktop.widgets.compare import CompareWindow
from desktop.widgets.dicom_tags import DicomTagPanel
from desktop.widgets.forms import error_label, set_message, show_error
from shared.enums import XRayType
from shared.models import XRay

Index = QModelIndex | QPersistentModelIndex
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.dcm *.dicom);;All files (*)"


class XRayModel(PagedTableModel[XRay]):
    """X-rays with their thumbnails as decoration, fetched as the rows arrive."""

    def __init__(self, session: Session) -> None:
        super().__init__(
            session.submit,
            [Column("X-ray", lambda x: f"{x.name_of_xray}\n{display(x.created_at)}")],
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
        self.view = QListView(self)
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setIconSize(QSize(128, 128))
        self.view.setGridSize(QSize(156, 176))
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
        for signal in (self.model.modelReset, self.model.rowsInserted, self.model.loading_changed):
            signal.connect(self._update_empty)

    def _update_empty(self) -> None:
        self.empty_label.setVisible(self.model.rowCount() == 0 and not self.model.is_loading)

    def show_patient(self, session: Session, patient_id: int | None) -> None:
        if patient_id is None:
            self.model.clear()
            return
        self.model.set_fetcher(xray_ops.of_patient(session, patient_id))

    def current(self) -> XRay | None:
        index = self.view.currentIndex()
        return self.model.item(index.row()) if index.isValid() else None


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
        self.panel = XRayViewerPanel(self, can_annotate=can_write_result)
        self.title = QLabel("", self)
        self.title.setStyleSheet("font-weight: bold; font-size: 14px;")
        self.title.setWordWrap(True)
        self.facts = QLabel("", self)
        self.facts.setWordWrap(True)
        self.facts.setStyleSheet("color: gray;")
        self.description = QLabel("", self)
        self.description.setWordWrap(True)
        self.result_edit = QPlainTextEdit(self)
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
        self.side.setMinimumWidth(260)
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
        self.facts.setText(
            f"{xray.type_of_xray.value} · {xray.width}×{xray.height} · "
            f"{xray.content_type} · {display(xray.created_at)}"
        )
        self.description.setText(xray.description_of_xray or "")
        self.result_edit.setPlainText(xray.result_of_xray or "")
        self.final_check.setChecked(xray.result_final)

    def _loaded(self, data: ViewerData) -> None:
        self._load = None
        self.data = data
        self.panel.show_image(data.image)
        self.panel.set_annotations(
            data.annotations.annotations, data.annotations.calibration_mm_per_pixel
        )
        self.tags.set_tags(data.image.metadata.tags if data.image.metadata else [])
        self.save_marks_button.setEnabled(False)
        self.status.setText("Shown from the local cache." if data.from_cache else "")

    def _marks_edited(self) -> None:
        self.save_marks_button.setEnabled(True)
        self.status.setText("The marks have unsaved changes.")

    def save_marks(self) -> None:
        xray = self.xray
        if xray is None or not self._can_write_result:
            return
        viewer = self.panel.viewer
        annotations, calibration = viewer.annotations(), viewer.calibration_mm_per_pixel
        self.save_marks_button.setEnabled(False)

        def failed(error: ApiError) -> None:
            self.save_marks_button.setEnabled(True)
            show_error(error, self.error)

        imaging_ops.save_marks(
            self._session,
            xray.id,
            annotations,
            calibration,
            lambda _saved: self.status.setText("Marks saved."),
            failed,
        )

    def save_result(self) -> None:
        xray = self.xray
        if xray is None:
            return
        text = self.result_edit.toPlainText().strip() or None
        final = self.final_check.isChecked()
        self.save_button.setEnabled(False)

        def saved(updated: XRay) -> None:
            self.save_button.setEnabled(True)
            self.xray = updated
            self.status.setText("Result saved." + (" The patient can read it." if final else ""))
            self.updated.emit(updated)

        def failed(error: ApiError) -> None:
            self.save_button.setEnabled(True)
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


class UploadItem(QFrame):
    """One file waiting to be uploaded: its form, progress and the server's answer."""

    uploaded = Signal(object)
    removed = Signal(object)

    def __init__(
        self, session: Session, path: Path, patient_id: int | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._session = session
        self.path = path
        self._patient_id = patient_id
        self._task: Task | None = None
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.name_edit = QLineEdit(path.stem.replace("_", " ")[:200], self)
        self.type_combo = QComboBox(self)
        for xray_type in XRayType:
            self.type_combo.addItem(xray_type.value.title(), xray_type.value)
        self.type_combo.setCurrentIndex(self.type_combo.findData(_guess_type(path.name)))
        self.description_edit = QLineEdit(self)
        self.description_edit.setPlaceholderText("Optional description")
        self.progress = QProgressBar(self)
        self.progress.setVisible(False)
        self.status = QLabel("Ready to upload.", self)
        self.status.setWordWrap(True)
        self.error = error_label(self)
        self.upload_button = QPushButton("Upload", self)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setVisible(False)
        self.remove_button = QPushButton("Remove", self)
        self.preview_button = QPushButton("Preview", self)
        self.preview_button.setToolTip("Look at the file in the viewer before uploading it")
        self.preview_button.clicked.connect(self.open_preview)
        self.preview: PreviewWindow | None = None
        self.upload_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.remove_button.clicked.connect(lambda: self.removed.emit(self))
        self.name_error = error_label(self)
        form = QFormLayout()
        form.addRow("File", QLabel(path.name, self))
        form.addRow("Name", self.name_edit)
        form.addRow("", self.name_error)
        form.addRow("Type", self.type_combo)
        form.addRow("Description", self.description_edit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.preview_button)
        buttons.addWidget(self.upload_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.error)
        self.is_done = False

    def open_preview(self) -> None:
        self.preview = PreviewWindow(self._session.runner, self.path)
        self.preview.show()

    @property
    def is_busy(self) -> bool:
        return self._task is not None

    def start(self) -> None:
        if self.is_busy or self.is_done:
            return
        name = self.name_edit.text().strip()
        xray_type = XRayType(self.type_combo.currentData())
        description = self.description_edit.text().strip() or None
        set_message(self.error, "")
        set_message(self.name_error, "")
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.status.setText("Uploading…")
        self._set_editable(False)

        self._task = xray_ops.upload(
            self._session,
            self.path,
            name,
            xray_type,
            description,
            self._patient_id,
            self._succeeded,
            self._failed,
        )
        self._task.progressed.connect(self._progressed)
        self._task.cancelled.connect(self._cancelled)

    def _progressed(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        if done >= total:
            self.status.setText("Checking the image…")

    def _set_editable(self, editable: bool) -> None:
        for widget in (
            self.name_edit,
            self.type_combo,
            self.description_edit,
            self.upload_button,
            self.remove_button,
        ):
            widget.setEnabled(editable)
        self.cancel_button.setVisible(not editable)

    def _succeeded(self, xray: XRay) -> None:
        self._task = None
        self.is_done = True
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self.remove_button.setEnabled(True)
        self.status.setText(f"Uploaded as “{xray.name_of_xray}”.")
        self.uploaded.emit(xray)

    def _failed(self, error: ApiError) -> None:
        self._task = None
        self.progress.setVisible(False)
        self._set_editable(True)
        self.status.setText("Refused by the server:" if error.status else "Not uploaded:")
        show_error(error, self.error, {"name_of_xray": self.name_error})

    def _cancelled(self) -> None:
        self._task = None
        self.progress.setVisible(False)
        self._set_editable(True)
        self.status.setText("Upload cancelled.")

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()


def _guess_type(file_name: str) -> str:
    lowered = file_name.lower()
    for xray_type in XRayType:
        if xray_type.value in lowered:
            return xray_type.value
    return XRayType.other.value


class UploadQueue(QWidget):
    """Files dropped or chosen for upload, each with its own form and progress bar."""

    uploaded = Signal(object)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self.patient_id: int | None = None
        self.items: list[UploadItem] = []
        self.hint = QLabel("Drop PNG, JPEG or DICOM files here", self)
        self.hint.setToolTip("Or choose them with “Upload…”; each file gets its own form.")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: gray; padding: 8px; border: 1px dashed gray;")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.choose_button = QPushButton("Upload…", self)
        self.choose_button.clicked.connect(self.choose_files)
        self.upload_all_button = QPushButton("Upload all", self)
        self.upload_all_button.clicked.connect(self.upload_all)
        self.upload_all_button.setVisible(False)
        header = QHBoxLayout()
        header.addWidget(self.hint, 1)
        header.addWidget(self.choose_button)
        header.addWidget(self.upload_all_button)
        self._list = QVBoxLayout()
        self._list.addStretch(1)
        inner = QWidget(self)
        inner.setLayout(self._list)
        self.scroll_area = QScrollArea(self)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setWidget(inner)
        self.scroll_area.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.scroll_area, 1)

    def add_files(self, paths: list[Path]) -> None:
        for path in paths:
            item = UploadItem(self._session, path, self.patient_id, self)
            item.uploaded.connect(self.uploaded)
            item.removed.connect(self._remove)
            self.items.append(item)
            self._list.insertWidget(self._list.count() - 1, item)
        self._update()

    def choose_files(self) -> None:
        dialog = QFileDialog(self, "Choose x-ray images", "", IMAGE_FILTER)
        dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
        dialog.filesSelected.connect(lambda names: self.add_files([Path(name) for name in names]))
        dialog.open()

    def upload_all(self) -> None:
        for item in self.items:
            item.start()

    def _remove(self, item: UploadItem) -> None:
        item.cancel()
        self.items.remove(item)
        item.setParent(None)
        item.deleteLater()
        self._update()

    def _update(self) -> None:
        self.scroll_area.setVisible(bool(self.items))
        self.upload_all_button.setVisible(len(self.items) > 1)
