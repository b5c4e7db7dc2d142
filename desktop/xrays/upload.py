"""Uploading films: a form and a progress bar per file, dropped or chosen."""

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from desktop.http import ApiError
from desktop.local_preview import PreviewWindow
from desktop.operations import xrays as xray_ops
from desktop.runner import Task
from desktop.session import Session
from desktop.widgets.forms import error_label, set_message, show_error
from shared.enums import XRayType
from shared.models import XRay

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.dcm *.dicom);;All files (*)"


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
