"""Opening an image file from this computer in the viewer: to look at a film before uploading
it, and for the installed program's self-test. Decoded exactly as the server renders it."""

import asyncio
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from desktop.runner import AsyncRunner, Progress
from desktop.widgets.viewer_panel import XRayViewerPanel
from shared.imaging import HEAD_BYTES, PixelTransform, display_values, pack, sniff_content_type
from shared.metadata import read_metadata
from shared.models import XRayMetadata


@dataclass(frozen=True, slots=True)
class LocalImage:
    stored: np.ndarray
    transform: PixelTransform
    metadata: XRayMetadata


def read_local_image(path: Path) -> LocalImage:
    """Blocking: decode a PNG, JPEG or DICOM file; ValueError with a reason if it is none."""
    with path.open("rb") as handle:
        content_type = sniff_content_type(handle.read(HEAD_BYTES))
    if content_type is None:
        raise ValueError(f"{path.name} is not a PNG, JPEG or DICOM image.")
    values, bits = display_values(path, content_type)
    stored, transform = pack(values, bits)
    return LocalImage(stored, transform, read_metadata(path, content_type, transform, True))


def show_local_image(panel: XRayViewerPanel, image: LocalImage) -> None:
    transform = image.transform
    panel.show_image(
        image.stored, transform.offset, transform.scale, transform.bits, image.metadata
    )


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

        async def job(_progress: Progress) -> LocalImage:
            return await asyncio.to_thread(read_local_image, path)

        task = runner.submit(job)
        task.succeeded.connect(lambda image: show_local_image(self.panel, image))
        task.failed.connect(lambda error: self.panel.show_message(str(error)))
