"""What the viewer shows: an image's stored values and how to read them, and the item that
draws its 8-bit rendering."""

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QGraphicsItem, QWidget

from shared.models import XRayMetadata


@dataclass(frozen=True, slots=True)
class DisplayImage:
    """An image to show: stored values (uint8 or uint16) with modality value = stored * scale +
    offset, the bits they span, and the file's metadata (presets, spacing) when known."""

    stored: np.ndarray
    offset: float = 0.0
    scale: float = 1.0
    bits: int = 8
    metadata: XRayMetadata | None = None

    @property
    def inverted(self) -> bool:
        """MONOCHROME1 shows low values bright."""
        return (
            self.metadata is not None and self.metadata.photometric_interpretation == "MONOCHROME1"
        )

    @property
    def pixel_spacing(self) -> tuple[float, float] | None:
        """(row_mm, col_mm) from the file, if it says."""
        if self.metadata is None or not self.metadata.pixel_spacing:
            return None
        return self.metadata.pixel_spacing[0], self.metadata.pixel_spacing[1]


class GreyImageItem(QGraphicsItem):
    """Draws an 8-bit grey image straight from its numpy buffer.

    A QPixmap would hold it as 32-bit RGB, four times the memory; Qt draws Grayscale8 images
    scaled just as fast (see bench/viewer.py)."""

    def __init__(self, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self._grey = np.zeros((0, 0), dtype=np.uint8)
        self._image = QImage()

    def set_grey(self, grey: np.ndarray) -> None:
        self.prepareGeometryChange()
        self._grey = np.ascontiguousarray(grey)
        height, width = self._grey.shape
        # The QImage borrows the array's bytes; the array lives as long as this item shows it.
        self._image = QImage(self._grey.data, width, height, width, QImage.Format.Format_Grayscale8)
        self.update()

    def image(self) -> QImage:
        return self._image.copy()

    def boundingRect(self) -> QRectF:  # noqa: N802
        return QRectF(0, 0, self._image.width(), self._image.height())

    def paint(self, painter: QPainter, option: object, widget: QWidget | None = None) -> None:
        if not self._image.isNull():
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(self.boundingRect(), self._image)
