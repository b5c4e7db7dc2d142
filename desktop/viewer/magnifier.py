"""A magnifying glass that follows the cursor over the viewer."""

from PySide6.QtCore import QPoint, QRect, QRectF, Qt
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtWidgets import QGraphicsView, QLabel

MAGNIFIER_SIZE = 200
MAGNIFICATION = 2.5


class Magnifier(QLabel):
    """Shows what is under the cursor, magnified, beside it (while visible)."""

    def __init__(self, view: QGraphicsView) -> None:
        super().__init__(view.viewport())
        self._view = view
        self.setFixedSize(MAGNIFIER_SIZE, MAGNIFIER_SIZE)
        self.setStyleSheet("border: 2px solid #ffc400; background: black;")
        self.setVisible(False)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)

    def follow(self, position: QPoint) -> None:
        """`position` is in the view's viewport."""
        if not self.isVisible():
            return
        source_side = MAGNIFIER_SIZE / MAGNIFICATION
        source = QRect(
            int(position.x() - source_side / 2),
            int(position.y() - source_side / 2),
            int(source_side),
            int(source_side),
        )
        pixmap = QPixmap(MAGNIFIER_SIZE, MAGNIFIER_SIZE)
        pixmap.fill(Qt.GlobalColor.black)
        painter = QPainter(pixmap)
        # render() paints the scene only, so the glass never shows itself.
        self._view.render(painter, QRectF(pixmap.rect()), source)
        painter.end()
        self.setPixmap(pixmap)
        self.move(position + QPoint(24, 24))
