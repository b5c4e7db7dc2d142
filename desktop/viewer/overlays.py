"""The reading overlays in the viewer's corners, as Weasis and OHIF show them: who and when
(top left), what (top right), the window (bottom left) and the zoom (bottom right)."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGraphicsView, QLabel

MARGIN = 8
STYLE = "color: #f0f0f0; background: transparent; font-size: 11px;"


class CornerOverlays:
    def __init__(self, view: QGraphicsView) -> None:
        self._view = view
        self.labels: dict[str, QLabel] = {}
        for corner in ("top_left", "top_right", "bottom_left", "bottom_right"):
            label = QLabel(view.viewport())
            label.setObjectName(f"overlay-{corner.replace('_', '-')}")
            label.setStyleSheet(STYLE)
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            label.setTextFormat(Qt.TextFormat.PlainText)
            self.labels[corner] = label
        self.set_visible(False)

    def set_visible(self, visible: bool) -> None:
        for label in self.labels.values():
            label.setVisible(visible)

    def set_text(self, corner: str, text: str) -> None:
        label = self.labels[corner]
        label.setText(text)
        label.adjustSize()
        self.place()

    def place(self) -> None:
        area = self._view.viewport().rect()
        for corner, label in self.labels.items():
            size = label.sizeHint()
            x = MARGIN if corner.endswith("left") else area.width() - size.width() - MARGIN
            y = MARGIN if corner.startswith("top") else area.height() - size.height() - MARGIN
            label.move(x, y)
