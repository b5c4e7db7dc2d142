"""The radiograph viewer: a QGraphicsView with zoom under the mouse, drag to pan, fit, 1:1."""

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QBrush,
    QColor,
    QImage,
    QKeySequence,
    QPainter,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QLabel,
    QProgressBar,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

MIN_ZOOM, MAX_ZOOM = 0.02, 32.0
WHEEL_STEP = 1.25


class XRayViewer(QGraphicsView):
    """Shows one image; `zoom_changed` carries the scale (1.0: an image pixel per screen pixel)."""

    zoom_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._scene = QGraphicsScene(self)
        self._item = QGraphicsPixmapItem()
        self._item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._scene.addItem(self._item)
        self.setScene(self._scene)
        self.setBackgroundBrush(QBrush(QColor(12, 12, 12)))
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self._fit_mode = True

    @property
    def has_image(self) -> bool:
        return not self._item.pixmap().isNull()

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    @property
    def fit_mode(self) -> bool:
        return self._fit_mode

    def set_image(self, image: QImage) -> None:
        self._item.setPixmap(QPixmap.fromImage(image))
        self._scene.setSceneRect(QRectF(self._item.pixmap().rect()))
        self.fit_to_window()

    def clear(self) -> None:
        self._item.setPixmap(QPixmap())
        self.resetTransform()
        self.zoom_changed.emit(self.zoom)

    def fit_to_window(self) -> None:
        self._fit_mode = True
        if self.has_image:
            self.fitInView(self._item, Qt.AspectRatioMode.KeepAspectRatio)
        self.zoom_changed.emit(self.zoom)

    def actual_size(self) -> None:
        self._fit_mode = False
        self.resetTransform()
        self.zoom_changed.emit(self.zoom)

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Scale by `factor`, clamped, keeping the image point under `anchor` (a viewport
        position; default its centre) where it is on screen."""
        target = min(MAX_ZOOM, max(MIN_ZOOM, self.zoom * factor))
        if not self.has_image or target == self.zoom:
            return
        if anchor is None:
            anchor = QPointF(self.viewport().rect().center())
        scene_point = self.mapToScene(anchor.toPoint())
        self._fit_mode = False
        self.scale(target / self.zoom, target / self.zoom)
        # Done by hand rather than with AnchorUnderMouse: that follows the cursor, which
        # is not where a wheel event or a shortcut says.
        drift = self.mapFromScene(scene_point) - anchor.toPoint()
        horizontal, vertical = self.horizontalScrollBar(), self.verticalScrollBar()
        horizontal.setValue(horizontal.value() + drift.x())
        vertical.setValue(vertical.value() + drift.y())
        self.zoom_changed.emit(self.zoom)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom_by(WHEEL_STEP**steps, event.position())
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit_to_window()


class XRayViewerPanel(QWidget):
    """The viewer with its toolbar (fit, 1:1, zoom in/out), zoom read-out and load progress."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = XRayViewer(self)
        self.toolbar = QToolBar("Viewer", self)
        self.zoom_label = QLabel("—", self)
        self.progress = QProgressBar(self)
        self.progress.setVisible(False)
        self.progress.setMaximumHeight(14)
        self.message = QLabel("", self)
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        self._build_actions()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addWidget(self.viewer, 1)
        self.viewer.zoom_changed.connect(self._show_zoom)
        self._update_actions()

    def _build_actions(self) -> None:
        def action(
            text: str,
            shortcut: QKeySequence | QKeySequence.StandardKey | str,
            slot: object,
            tip: str,
        ) -> QAction:
            act = QAction(text, self)
            act.setShortcut(QKeySequence(shortcut))
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.setToolTip(f"{tip} ({QKeySequence(shortcut).toString()})")
            act.triggered.connect(slot)
            self.toolbar.addAction(act)
            self.addAction(act)
            return act

        self.fit_action = action(
            "Fit", "F", self.viewer.fit_to_window, "Fit the image to the window"
        )
        self.actual_action = action(
            "1:1", "1", self.viewer.actual_size, "One image pixel per screen pixel"
        )
        self.zoom_in_action = action(
            "Zoom in",
            QKeySequence.StandardKey.ZoomIn,
            lambda: self.viewer.zoom_by(WHEEL_STEP),
            "Zoom in",
        )
        self.zoom_out_action = action(
            "Zoom out",
            QKeySequence.StandardKey.ZoomOut,
            lambda: self.viewer.zoom_by(1 / WHEEL_STEP),
            "Zoom out",
        )
        self.toolbar.addSeparator()
        self.toolbar.addWidget(self.zoom_label)

    def _update_actions(self) -> None:
        for act in (self.fit_action, self.actual_action, self.zoom_in_action, self.zoom_out_action):
            act.setEnabled(self.viewer.has_image)

    def _show_zoom(self, zoom: float) -> None:
        self.zoom_label.setText(f"{zoom * 100:.0f}%" if self.viewer.has_image else "—")

    def show_loading(self, done: int, total: int) -> None:
        self.message.setVisible(False)
        self.progress.setVisible(True)
        self.progress.setRange(0, total or 0)
        self.progress.setValue(done)

    def show_image(self, image: QImage) -> None:
        self.progress.setVisible(False)
        self.message.setVisible(False)
        self.viewer.set_image(image)
        self._update_actions()

    def show_message(self, text: str) -> None:
        self.progress.setVisible(False)
        self.message.setText(text)
        self.message.setVisible(True)

    def clear(self) -> None:
        self.progress.setVisible(False)
        self.message.setVisible(False)
        self.viewer.clear()
        self._update_actions()
