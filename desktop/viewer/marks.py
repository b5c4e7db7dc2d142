"""Measurements and marks drawn over an x-ray, in image pixel coordinates.

Lengths read in millimetres when the pixel spacing is known (DICOM) or the image was calibrated;
otherwise in pixels. Items draw with cosmetic pens so they stay crisp at every zoom.
"""

import math
from dataclasses import dataclass
from enum import StrEnum

from PySide6.QtCore import QLineF, QPointF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsItemGroup,
    QGraphicsLineItem,
    QGraphicsPathItem,
    QGraphicsSimpleTextItem,
)

from shared.models import Annotation

COLOUR = QColor(255, 196, 0)
SELECTED = QColor(0, 200, 255)


def distance_mm(
    first: QPointF, second: QPointF, spacing: tuple[float, float] | None
) -> float | None:
    """Millimetres between two image points; spacing is (row_mm, col_mm) as DICOM gives it."""
    if spacing is None:
        return None
    row_mm, col_mm = spacing
    return math.hypot((second.x() - first.x()) * col_mm, (second.y() - first.y()) * row_mm)


def angle_degrees(first: QPointF, vertex: QPointF, third: QPointF) -> float:
    a = math.atan2(first.y() - vertex.y(), first.x() - vertex.x())
    b = math.atan2(third.y() - vertex.y(), third.x() - vertex.x())
    degrees = abs(math.degrees(a - b)) % 360
    return 360 - degrees if degrees > 180 else degrees


def measurement_text(annotation: Annotation, spacing: tuple[float, float] | None) -> str:
    points = [QPointF(x, y) for x, y in annotation.points]
    if annotation.kind == "line":
        millimetres = distance_mm(points[0], points[1], spacing)
        if millimetres is not None:
            return f"{millimetres:.1f} mm"
        return f"{QLineF(points[0], points[1]).length():.1f} px"
    if annotation.kind == "angle":
        return f"{angle_degrees(points[0], points[1], points[2]):.1f}°"
    return annotation.label or ""


def _pen(colour: QColor) -> QPen:
    pen = QPen(colour, 2)
    pen.setCosmetic(True)  # two screen pixels wide at every zoom
    return pen


class AnnotationItem(QGraphicsItemGroup):
    """One annotation: its lines and its label; selectable, so it can be deleted."""

    def __init__(self, annotation: Annotation, spacing: tuple[float, float] | None) -> None:
        super().__init__()
        self.annotation = annotation
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self._shapes: list[QGraphicsLineItem | QGraphicsPathItem] = []
        points = [QPointF(x, y) for x, y in annotation.points]
        if annotation.kind in ("line", "arrow"):
            self._shapes.append(QGraphicsLineItem(QLineF(points[0], points[1])))
        if annotation.kind == "arrow":
            self._shapes.append(QGraphicsPathItem(_arrow_head(points[0], points[1])))
        if annotation.kind == "angle":
            path = QPainterPath(points[0])
            path.lineTo(points[1])
            path.lineTo(points[2])
            self._shapes.append(QGraphicsPathItem(path))
        for shape in self._shapes:
            self.addToGroup(shape)
        self.label = QGraphicsSimpleTextItem(measurement_text(annotation, spacing))
        self.label.setFont(QFont("Sans", 11, QFont.Weight.Bold))
        # The label keeps its size on screen whatever the zoom, rotation or flip.
        self.label.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        anchor = points[1] if annotation.kind == "angle" else points[-1]
        self.label.setPos(anchor + QPointF(4, 4))
        self.addToGroup(self.label)
        self._paint(COLOUR)

    def _paint(self, colour: QColor) -> None:
        for shape in self._shapes:
            shape.setPen(_pen(colour))
        self.label.setBrush(QBrush(colour))

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: object) -> object:  # noqa: N802
        if change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged:
            self._paint(SELECTED if value else COLOUR)
        return super().itemChange(change, value)


def _arrow_head(tail: QPointF, head: QPointF, size: float = 14.0) -> QPainterPath:
    line = QLineF(head, tail)
    if line.length() == 0:
        return QPainterPath()
    path = QPainterPath()
    for turn in (25, -25):
        side = QLineF(line)
        side.setLength(min(size, line.length() / 2))
        side.setAngle(line.angle() + turn)
        path.moveTo(head)
        path.lineTo(side.p2())
    return path


def preview_pen() -> QPen:
    pen = _pen(COLOUR)
    pen.setStyle(Qt.PenStyle.DashLine)
    return pen


class Tool(StrEnum):
    navigate = "navigate"
    line = "line"
    angle = "angle"
    arrow = "arrow"
    text = "text"
    calibrate = "calibrate"


POINTS_NEEDED = {Tool.line: 2, Tool.arrow: 2, Tool.angle: 3, Tool.text: 1, Tool.calibrate: 2}


@dataclass(frozen=True, slots=True)
class TextRequested:
    """The text tool was clicked here: the words are asked for, then added as a mark."""

    point: QPointF


@dataclass(frozen=True, slots=True)
class CalibrationRequested:
    """A calibration line this many pixels long was drawn: its true length is asked for."""

    length_px: float


Placed = Annotation | TextRequested | CalibrationRequested


class MarkLayer:
    """The marks on one image, and the tool that places the next one.

    A tool collects its points one click at a time (`place`); the last one completes a mark,
    or asks for the words of a text or the true length of a calibration line. A rubber band
    (`follow`) shows the mark being placed."""

    def __init__(self, canvas: QGraphicsItem) -> None:
        self.canvas = canvas
        self.tool = Tool.navigate
        self.spacing: tuple[float, float] | None = None  # (row_mm, col_mm) from the file
        self.calibration_mm_per_pixel: float | None = None
        self._points: list[QPointF] = []
        self._items: list[AnnotationItem] = []
        self._preview = QGraphicsPathItem(canvas)
        self._preview.setPen(preview_pen())
        self._preview.setZValue(2)

    def mm_spacing(self) -> tuple[float, float] | None:
        if self.spacing is not None:
            return self.spacing
        if self.calibration_mm_per_pixel is not None:
            return (self.calibration_mm_per_pixel, self.calibration_mm_per_pixel)
        return None

    # --- placing ------------------------------------------------------------------------

    def set_tool(self, tool: Tool) -> None:
        self.tool = tool
        self._points = []
        self._preview.setPath(QPainterPath())

    @property
    def placing(self) -> bool:
        return self.tool != Tool.navigate and bool(self._points)

    def follow(self, cursor: QPointF | None) -> None:
        points = self._points + ([cursor] if cursor is not None else [])
        path = QPainterPath()
        if points:
            path.moveTo(points[0])
            for point in points[1:]:
                path.lineTo(point)
        self._preview.setPath(path)

    def place(self, point: QPointF) -> Placed | None:
        """Take one point of the current tool; what it completed, if anything."""
        self._points.append(point)
        if len(self._points) < POINTS_NEEDED[self.tool]:
            self.follow(None)
            return None
        points, tool = self._points, self.tool
        self.set_tool(tool)  # ready for the next mark of the same kind
        if tool == Tool.text:
            return TextRequested(points[0])
        if tool == Tool.calibrate:
            length = QLineF(points[0], points[1]).length()
            return CalibrationRequested(length) if length > 0 else None
        annotation = Annotation.model_validate(
            {"kind": tool.value, "points": [[p.x(), p.y()] for p in points]}
        )
        self.add(annotation)
        return annotation

    # --- the marks ----------------------------------------------------------------------

    def replace(self, annotations: list[Annotation], calibration: float | None) -> None:
        for item in self._items:
            scene = item.scene()
            if scene is not None:
                scene.removeItem(item)
        self._items = []
        self.calibration_mm_per_pixel = calibration
        for annotation in annotations:
            self.add(annotation)

    def add(self, annotation: Annotation) -> None:
        item = AnnotationItem(annotation, self.mm_spacing())
        item.setParentItem(self.canvas)
        item.setZValue(1)
        self._items.append(item)

    def annotations(self) -> list[Annotation]:
        return [item.annotation for item in self._items]

    def delete_selected(self) -> bool:
        """Remove the selected marks; whether any was."""
        chosen = [item for item in self._items if item.isSelected()]
        for item in chosen:
            self._items.remove(item)
            scene = item.scene()
            if scene is not None:
                scene.removeItem(item)
        return bool(chosen)

    def select(self, index: int) -> None:
        for number, item in enumerate(self._items):
            item.setSelected(number == index)

    def labels(self) -> list[str]:
        return [item.label.text() for item in self._items]
