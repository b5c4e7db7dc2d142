"""Opening an image file from this computer in the viewer: to look at a film before uploading
it, and for the installed program's self-test. Decoded exactly as the server renders it."""

import asyncio
from pathlib import Path

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from desktop.runner import AsyncRunner, Progress
from desktop.viewer.image import DisplayImage
from desktop.viewer.panel import XRayViewerPanel
from shared.imaging import HEAD_BYTES, display_values, pack, sniff_content_type
from shared.metadata import read_metadata


def read_local_image(path: Path) -> DisplayImage:
    """Blocking: decode a PNG, JPEG or DICOM file; ValueError with a reason if it is none."""
    with path.open("rb") as handle:
        content_type = sniff_content_type(handle.read(HEAD_BYTES))
    if content_type is None:
        raise ValueError(f"{path.name} is not a PNG, JPEG or DICOM image.")
    values, bits = display_values(path, content_type)
    stored, transform = pack(values, bits)
    metadata = read_metadata(path, content_type, transform, True)
    return DisplayImage(stored, transform.offset, transform.scale, transform.bits, metadata)


class PreviewWindow(QWidget):
    """A file from this computer in the viewer (nothing is sent to the server)."""

    def __init__(self, runner: AsyncRunner, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Preview — {path.name}")
        self.panel = XRayViewerPanel(self)
        self.note = QLabel("A preview of the file on this computer; nothing is uploaded.", self)
        self.note.setStyleSheet("color: gray;")
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.panel, 1)
        self.resize(900, 800)
        self.panel.show_loading(0, 0)

        async def job(_progress: Progress) -> DisplayImage:
            return await asyncio.to_thread(read_local_image, path)

        task = runner.submit(job)
        task.succeeded.connect(self.panel.show_image)
        task.failed.connect(lambda error: self.panel.show_message(str(error)))
