"""The radiograph viewer: zoom under the mouse, pan, window/level, orientation, measurements.

Pixels are kept as stored (8 or 16 bits) and windowed to 8 bits through a lookup table: while
the right button drags the window, only what is on screen is computed, at screen resolution;
the full image follows when the drag ends.
"""

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QWidget,
)

from desktop.viewer.image import DisplayImage, GreyImageItem
from desktop.viewer.marks import CalibrationRequested, MarkLayer, TextRequested, Tool
from shared.models import Annotation
from shared.windowing import Window, full_window, robust_window, window_lut

MIN_ZOOM, MAX_ZOOM = 0.02, 32.0
WHEEL_STEP = 1.25
FULL_RENDER_DELAY_MS = 150
# A press and release this far apart (screen pixels) is a drag, not a click.
DRAG_PIXELS = 4


class XRayViewer(QGraphicsView):
    """One image. Everything drawn on it lives in image pixel coordinates (`canvas`)."""

    zoom_changed = Signal(float)
    window_changed = Signal(float, float)  # center, width (modality units)
    view_changed = Signal()  # zoom, pan or orientation moved (linked views follow)
    annotations_changed = Signal()
    text_requested = Signal(QPointF)  # where a text mark goes; the panel asks for the words
    calibration_requested = Signal(float)  # a calibration line this many pixels long
    cursor_moved = Signal(QPoint)  # viewport position, for the magnifier
    resized = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._scene = QGraphicsScene(self)
        self.canvas = QGraphicsRectItem()
        self.canvas.setPen(Qt.PenStyle.NoPen)
        self._scene.addItem(self.canvas)
        self._image_item = GreyImageItem(self.canvas)
        self.marks = MarkLayer(self.canvas)
        self.setScene(self._scene)
        self.setAccessibleName("X-ray image")
        self.setBackgroundBrush(QBrush(QColor(12, 12, 12)))
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setMouseTracking(True)
        self._fit_mode = True
        self._stored: np.ndarray | None = None
        self._bits, self._offset, self._scale = 8, 0.0, 1.0
        self.current_window: Window | None = None
        self.default_inverted = False
        self.inverted = False
        self.rotation = 0
        self.flipped_horizontally = False
        self.flipped_vertically = False
        self._window_drag: tuple[QPoint, Window] | None = None
        self._pressed_at: QPointF | None = None  # where a tool's press went down
        self._full_render = QTimer(self)
        self._full_render.setSingleShot(True)
        self._full_render.setInterval(FULL_RENDER_DELAY_MS)
        self._full_render.timeout.connect(lambda: self._render(preview=False))
        for bar in (self.horizontalScrollBar(), self.verticalScrollBar()):
            bar.valueChanged.connect(self.view_changed)

    # --- the image ----------------------------------------------------------------------

    @property
    def has_image(self) -> bool:
        return self._stored is not None

    @property
    def zoom(self) -> float:
        return float(np.hypot(self.transform().m11(), self.transform().m12()))

    @property
    def fit_mode(self) -> bool:
        return self._fit_mode

    @property
    def image_size(self) -> tuple[int, int]:
        return (0, 0) if self._stored is None else (self._stored.shape[1], self._stored.shape[0])

    def set_image(self, image: DisplayImage) -> None:
        """Show an image, fitted, in its auto window, without marks."""
        stored = image.stored
        self._stored = stored
        self._offset, self._scale, self._bits = image.offset, image.scale, image.bits
        self.default_inverted = image.inverted
        self.marks.spacing = image.pixel_spacing
        height, width = stored.shape
        self.canvas.setRect(QRectF(0, 0, width, height))
        self.set_annotations([], None)
        self.reset()

    def clear(self) -> None:
        self._stored = None
        self._image_item.set_grey(np.zeros((0, 0), dtype=np.uint8))
        self.set_annotations([], None)
        self.current_window = None
        self.resetTransform()
        self.zoom_changed.emit(self.zoom)

    def modality_range(self) -> Window:
        assert self._stored is not None
        return full_window(self._stored, self._offset, self._scale)

    def auto_window(self) -> None:
        if self._stored is not None:
            self.set_window(robust_window(self._stored, self._offset, self._scale))

    def set_window(self, window: Window, *, preview: bool = False) -> None:
        self.current_window = window
        self._render(preview=preview)
        self.window_changed.emit(window.center, window.width)

    def set_inverted(self, inverted: bool) -> None:
        self.inverted = inverted
        self._render(preview=False)

    def rendered_image(self) -> QImage:
        return self._image_item.image()

    def _visible_image_rect(self) -> tuple[int, int, int, int]:
        """The part of the image on screen, in image pixels (x0, y0, x1, y1)."""
        width, height = self.image_size
        shown = self.mapToScene(self.viewport().rect()).boundingRect()
        area = self.canvas.mapFromScene(shown).boundingRect().toAlignedRect()
        area = area.intersected(self.canvas.rect().toAlignedRect())
        if area.isEmpty():
            return 0, 0, width, height
        return area.left(), area.top(), area.right() + 1, area.bottom() + 1

    def _render(self, *, preview: bool) -> None:
        if self._stored is None or self.current_window is None:
            return
        lut = window_lut(self._bits, self._offset, self._scale, self.current_window, self.inverted)
        if preview:
            # Only what is on screen, at about screen resolution: a drag stays fluid.
            step = max(1, int(1 / max(self.zoom, 1e-6)))
            x0, y0, x1, y1 = self._visible_image_rect()
            grey = lut[self._stored[y0:y1:step, x0:x1:step]]
            self._image_item.setPos(x0, y0)
            self._image_item.setScale(step)
            self._full_render.start()
        else:
            self._full_render.stop()
            grey = lut[self._stored]
            self._image_item.setPos(0, 0)
            self._image_item.setScale(1)
        self._image_item.set_grey(grey)

    # --- orientation --------------------------------------------------------------------

    def _apply_orientation(self) -> None:
        width, height = self.image_size
        transform = QTransform()
        transform.translate(width / 2, height / 2)
        transform.rotate(self.rotation)
        transform.scale(
            -1 if self.flipped_horizontally else 1, -1 if self.flipped_vertically else 1
        )
        transform.translate(-width / 2, -height / 2)
        self.canvas.setTransform(transform)
        self._scene.setSceneRect(self.canvas.sceneBoundingRect())
        if self._fit_mode:
            self.fit_to_window()
        self.view_changed.emit()

    def rotate_by(self, degrees: int) -> None:
        self.rotation = (self.rotation + degrees) % 360
        self._apply_orientation()

    def flip_horizontally(self) -> None:
        self.flipped_horizontally = not self.flipped_horizontally
        self._apply_orientation()

    def flip_vertically(self) -> None:
        self.flipped_vertically = not self.flipped_vertically
        self._apply_orientation()

    def reset(self) -> None:
        """Back to how the image first opened: auto window, upright, fitted."""
        self.rotation = 0
        self.flipped_horizontally = self.flipped_vertically = False
        self.inverted = self.default_inverted
        self._fit_mode = True
        self._apply_orientation()
        self.auto_window()

    # --- zoom and pan -------------------------------------------------------------------

    def fit_to_window(self) -> None:
        self._fit_mode = True
        if self.has_image:
            self.fitInView(self.canvas.sceneBoundingRect(), Qt.AspectRatioMode.KeepAspectRatio)
        self.zoom_changed.emit(self.zoom)
        self.view_changed.emit()

    def actual_size(self) -> None:
        self._fit_mode = False
        self.setTransform(QTransform())
        self.zoom_changed.emit(self.zoom)
        self.view_changed.emit()

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
        self.view_changed.emit()

    def fitted_zoom(self) -> float:
        """The zoom at which the whole image fits the view."""
        if not self.has_image:
            return 1.0
        shown = self.canvas.sceneBoundingRect()
        viewport = self.viewport().rect()
        return min(viewport.width() / shown.width(), viewport.height() / shown.height())

    def set_zoom(self, zoom: float) -> None:
        self.zoom_by(zoom / self.zoom if self.zoom else 1.0)

    def view_center(self) -> QPointF:
        """The image point at the centre of the view (for linking two views)."""
        return self.canvas.mapFromScene(self.mapToScene(self.viewport().rect().center()))

    def center_on_image_point(self, point: QPointF) -> None:
        self.centerOn(self.canvas.mapToScene(point))

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom_by(WHEEL_STEP**steps, event.position())
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.resized.emit()
        if self._fit_mode:
            self.fit_to_window()

    # --- tools --------------------------------------------------------------------------

    @property
    def tool(self) -> Tool:
        return self.marks.tool

    @property
    def spacing(self) -> tuple[float, float] | None:
        return self.marks.spacing

    @property
    def calibration_mm_per_pixel(self) -> float | None:
        return self.marks.calibration_mm_per_pixel

    def set_tool(self, tool: Tool) -> None:
        self.marks.set_tool(tool)
        navigating = tool == Tool.navigate
        self.setDragMode(
            QGraphicsView.DragMode.ScrollHandDrag if navigating else QGraphicsView.DragMode.NoDrag
        )
        self.viewport().setCursor(
            Qt.CursorShape.OpenHandCursor if navigating else Qt.CursorShape.CrossCursor
        )

    def image_point(self, viewport_position: QPointF) -> QPointF:
        """The image pixel under a viewport position, kept inside the image."""
        point = self.canvas.mapFromScene(self.mapToScene(viewport_position.toPoint()))
        width, height = self.image_size
        return QPointF(min(max(point.x(), 0.0), width), min(max(point.y(), 0.0), height))

    def _place_point(self, point: QPointF) -> None:
        placed = self.marks.place(point)
        if isinstance(placed, TextRequested):
            self.text_requested.emit(placed.point)
        elif isinstance(placed, CalibrationRequested):
            self.calibration_requested.emit(placed.length_px)
        elif placed is not None:
            self.annotations_changed.emit()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if not self.has_image:
            return super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.RightButton and self.current_window is not None:
            self._window_drag = (event.position().toPoint(), self.current_window)
            event.accept()
            return None
        if event.button() == Qt.MouseButton.LeftButton and self.tool != Tool.navigate:
            self._pressed_at = event.position()
            self._place_point(self.image_point(event.position()))
            event.accept()
            return None
        return super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self.cursor_moved.emit(event.position().toPoint())
        if self._window_drag is not None:
            start, window = self._window_drag
            moved = event.position().toPoint() - start
            # Across the view, the width changes by the whole range of the image: right
            # widens (less contrast), down raises the level (darker).
            span = self.modality_range().width
            per_pixel = span / max(self.viewport().width(), 1)
            self.set_window(
                Window(
                    center=window.center + moved.y() * per_pixel,
                    width=max(1e-3 * span, window.width + moved.x() * per_pixel),
                ),
                preview=True,
            )
            event.accept()
            return
        if self.marks.placing:
            self.marks.follow(self.image_point(event.position()))
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.RightButton and self._window_drag is not None:
            self._window_drag = None
            self._render(preview=False)
            event.accept()
            return
        pressed_at, self._pressed_at = self._pressed_at, None
        if event.button() == Qt.MouseButton.LeftButton and pressed_at is not None:
            # Press, drag, release places the next point where the button came up (click,
            # click works too: a release where it went down places nothing).
            moved = event.position() - pressed_at
            if self.marks.placing and abs(moved.x()) + abs(moved.y()) > DRAG_PIXELS:
                self._place_point(self.image_point(event.position()))
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_selected()
            event.accept()
            return
        super().keyPressEvent(event)

    # --- annotations (kept by the mark layer) ----------------------------------------------

    def set_annotations(self, annotations: list[Annotation], calibration: float | None) -> None:
        self.marks.replace(annotations, calibration)

    def annotations(self) -> list[Annotation]:
        return self.marks.annotations()

    def add_annotation(self, annotation: Annotation) -> None:
        self.marks.add(annotation)
        self.annotations_changed.emit()

    def set_calibration(self, mm_per_pixel: float | None) -> None:
        """Apply a calibration; the lengths already drawn are measured again with it."""
        self.marks.replace(self.marks.annotations(), mm_per_pixel)
        self.annotations_changed.emit()

    def delete_selected(self) -> None:
        if self.marks.delete_selected():
            self.annotations_changed.emit()

    def select_annotation(self, index: int) -> None:
        self.marks.select(index)

    def mark_labels(self) -> list[str]:
        return self.marks.labels()

    def export_view(self) -> QImage:
        """What is on screen, marks included."""
        return self.viewport().grab().toImage()
