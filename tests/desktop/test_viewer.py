"""The radiograph viewer's tools, driven as a doctor would: mouse, keyboard, dialogs."""

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QInputDialog
from pytestqt.qtbot import QtBot

from desktop.viewer.actions import EDITING, MARK_TOOLS, OTHER
from desktop.viewer.image import DisplayImage
from desktop.viewer.panel import XRayViewerPanel
from desktop.viewer.view import Tool
from server.demo_images import radiograph_pixels
from shared.models import WindowPreset, XRayMetadata
from shared.windowing import Window

WIDTH, HEIGHT = 800, 600


def metadata(spacing: list[float] | None = None, photometric: str = "MONOCHROME2") -> XRayMetadata:
    return XRayMetadata(
        width=WIDTH,
        height=HEIGHT,
        bits_stored=12,
        photometric_interpretation=photometric,
        pixel_spacing=spacing,
        window_presets=[
            WindowPreset(name="Bone", center=3000, width=1000),
            WindowPreset(name="Soft", center=1500, width=800),
        ],
        modality="DX",
        body_part="CHEST",
        study_date=None,
        tags=[],
    )


@pytest.fixture
def panel(qtbot: QtBot) -> XRayViewerPanel:
    widget = XRayViewerPanel(can_annotate=True)
    qtbot.addWidget(widget)
    widget.resize(1000, 800)
    widget.show()
    qtbot.waitExposed(widget)
    widget.show_image(
        DisplayImage(radiograph_pixels(WIDTH, HEIGHT), 0.0, 1.0, 16, metadata([0.2, 0.1]))
    )
    widget.activateWindow()
    widget.viewer.setFocus()
    return widget


def at(panel: XRayViewerPanel, x: float, y: float) -> QPoint:
    """The viewport position of an image point."""
    viewer = panel.viewer
    return viewer.mapFromScene(viewer.canvas.mapToScene(QPointF(x, y)))


def click(qtbot: QtBot, panel: XRayViewerPanel, x: float, y: float) -> None:
    qtbot.mouseClick(panel.viewer.viewport(), Qt.MouseButton.LeftButton, pos=at(panel, x, y))


def press(qtbot: QtBot, panel: XRayViewerPanel, key: str) -> None:
    panel.actions_by_key[key].trigger()


def answer_dialog(qtbot: QtBot, panel: XRayViewerPanel, name: str, value: object) -> None:
    qtbot.waitUntil(lambda: panel.findChild(QInputDialog, name) is not None)
    dialog = panel.findChild(QInputDialog, name)
    assert isinstance(dialog, QInputDialog)
    if isinstance(value, float):
        dialog.setDoubleValue(value)
    else:
        dialog.setTextValue(str(value))
    dialog.accept()


def grey_at(panel: XRayViewerPanel, x: int, y: int) -> int:
    return panel.viewer.rendered_image().pixelColor(x, y).red()


def test_right_drag_changes_window_and_level(qtbot: QtBot, panel: XRayViewerPanel) -> None:
    viewer = panel.viewer
    before = viewer.current_window
    assert before is not None
    start = QPoint(400, 300)
    qtbot.mousePress(viewer.viewport(), Qt.MouseButton.RightButton, pos=start)
    with qtbot.waitSignal(viewer.window_changed) as changed:
        qtbot.mouseMove(viewer.viewport(), start + QPoint(100, 50))
    center, width = changed.args
    span = viewer.modality_range().width
    per_pixel = span / viewer.viewport().width()
    assert width == pytest.approx(before.width + 100 * per_pixel)
    assert center == pytest.approx(before.center + 50 * per_pixel)
    # While dragging only the visible part is windowed, at screen resolution.
    assert viewer._image_item.scale() >= 1
    qtbot.mouseRelease(viewer.viewport(), Qt.MouseButton.RightButton, pos=start + QPoint(100, 50))
    assert viewer._image_item.scale() == 1
    assert viewer.rendered_image().width() == WIDTH
    assert panel.width_spin.value() == pytest.approx(width, abs=0.1)


def test_presets_numbers_auto_and_invert(qtbot: QtBot, panel: XRayViewerPanel) -> None:
    viewer = panel.viewer
    panel.preset_combo.setCurrentIndex(1)
    panel.preset_combo.activated.emit(1)
    assert viewer.current_window == Window(3000, 1000)
    panel.center_spin.setValue(2000)
    panel.width_spin.setValue(500)
    panel.width_spin.editingFinished.emit()
    assert viewer.current_window == Window(2000, 500)
    values = radiograph_pixels(WIDTH, HEIGHT)
    dark = np.argwhere(values < 1750)[0]  # below the window: black
    assert grey_at(panel, int(dark[1]), int(dark[0])) == 0
    qtbot.keyClick(viewer, Qt.Key.Key_I)
    assert viewer.inverted
    assert grey_at(panel, int(dark[1]), int(dark[0])) == 255
    qtbot.keyClick(viewer, Qt.Key.Key_A)
    assert viewer.current_window != Window(2000, 500)
    assert panel.presets[0].name == "Bone"


def test_monochrome1_opens_inverted(qtbot: QtBot) -> None:
    panel = XRayViewerPanel()
    qtbot.addWidget(panel)
    panel.show_image(
        DisplayImage(radiograph_pixels(64, 48), 0.0, 1.0, 16, metadata(None, "MONOCHROME1"))
    )
    assert panel.viewer.inverted
    assert panel.actions_by_key["invert"].isChecked()


def test_rotate_flip_and_reset(qtbot: QtBot, panel: XRayViewerPanel) -> None:
    viewer = panel.viewer
    qtbot.keyClick(viewer, Qt.Key.Key_R)
    assert viewer.rotation == 90
    bounds = viewer.canvas.sceneBoundingRect()
    assert (round(bounds.width()), round(bounds.height())) == (HEIGHT, WIDTH)
    qtbot.keyClick(viewer, Qt.Key.Key_R, Qt.KeyboardModifier.ShiftModifier)
    assert viewer.rotation == 0
    corner = viewer.canvas.mapToScene(QPointF(0, 0))
    qtbot.keyClick(viewer, Qt.Key.Key_H)
    assert viewer.canvas.mapToScene(QPointF(0, 0)).x() == pytest.approx(corner.x() + WIDTH)
    qtbot.keyClick(viewer, Qt.Key.Key_V)
    assert viewer.canvas.mapToScene(QPointF(0, 0)).y() == pytest.approx(corner.y() + HEIGHT)
    viewer.set_window(Window(100, 10))
    qtbot.keyClick(viewer, Qt.Key.Key_0)
    assert (viewer.rotation, viewer.flipped_horizontally, viewer.flipped_vertically) == (
        0,
        False,
        False,
    )
    assert viewer.current_window != Window(100, 10)
    assert viewer.fit_mode


def test_zoom_keys(qtbot: QtBot, panel: XRayViewerPanel) -> None:
    viewer = panel.viewer
    fitted = viewer.zoom
    qtbot.keyClick(viewer, Qt.Key.Key_Plus)
    assert viewer.zoom == pytest.approx(fitted * 1.25)
    qtbot.keyClick(viewer, Qt.Key.Key_Minus)
    assert viewer.zoom == pytest.approx(fitted)
    qtbot.keyClick(viewer, Qt.Key.Key_1)
    assert viewer.zoom == 1.0
    qtbot.keyClick(viewer, Qt.Key.Key_F)
    assert viewer.zoom == pytest.approx(fitted)


def test_distance_in_mm_with_the_files_pixel_spacing(qtbot: QtBot, panel: XRayViewerPanel) -> None:
    viewer = panel.viewer
    qtbot.keyClick(viewer, Qt.Key.Key_1)  # 1:1, so that a click lands on an exact pixel
    qtbot.keyClick(viewer, Qt.Key.Key_D)
    assert viewer.tool == Tool.line
    click(qtbot, panel, 100, 100)
    click(qtbot, panel, 300, 100)  # 200 columns × 0.1 mm
    click(qtbot, panel, 100, 200)
    click(qtbot, panel, 100, 250)  # 50 rows × 0.2 mm
    labels = viewer.mark_labels()
    assert labels == ["20.0 mm", "10.0 mm"]
    points = viewer.annotations()[0].points
    assert points[0] == pytest.approx([100, 100], abs=1.5)
    assert not panel.actions_by_key["calibrate"].isEnabled()  # the file knows its spacing


def test_angle_arrow_text_and_delete(qtbot: QtBot, panel: XRayViewerPanel) -> None:
    viewer = panel.viewer
    qtbot.keyClick(viewer, Qt.Key.Key_1)  # 1:1, so that a click lands on an exact pixel
    edited: list[bool] = []
    panel.annotations_edited.connect(lambda: edited.append(True))
    qtbot.keyClick(viewer, Qt.Key.Key_G)
    for x, y in ((300, 100), (200, 200), (300, 300)):
        click(qtbot, panel, x, y)
    qtbot.keyClick(viewer, Qt.Key.Key_W)
    click(qtbot, panel, 50, 50)
    click(qtbot, panel, 120, 90)
    qtbot.keyClick(viewer, Qt.Key.Key_T)
    click(qtbot, panel, 400, 400)
    answer_dialog(qtbot, panel, "text-label", "Rib fracture?")
    qtbot.waitUntil(lambda: len(viewer.annotations()) == 3)
    assert [a.kind for a in viewer.annotations()] == ["angle", "arrow", "text"]
    assert viewer.mark_labels()[0] == "90.0°"
    assert viewer.mark_labels()[2] == "Rib fracture?"
    assert len(edited) == 3

    qtbot.keyClick(viewer, Qt.Key.Key_Escape)
    assert viewer.tool == Tool.navigate
    viewer.select_annotation(1)
    qtbot.keyClick(viewer, Qt.Key.Key_Delete)
    assert [a.kind for a in viewer.annotations()] == ["angle", "text"]


def test_calibration_line_sets_the_scale_of_a_plain_image(qtbot: QtBot) -> None:
    panel = XRayViewerPanel(can_annotate=True)
    qtbot.addWidget(panel)
    panel.resize(1000, 800)
    panel.show()
    qtbot.waitExposed(panel)
    panel.show_image(DisplayImage(radiograph_pixels(WIDTH, HEIGHT), 0.0, 1.0, 16, metadata(None)))
    viewer = panel.viewer
    viewer.actual_size()  # 1:1, so that a click lands on an exact pixel
    panel.actions_by_key["line"].trigger()
    click(qtbot, panel, 100, 100)
    click(qtbot, panel, 200, 100)
    assert viewer.mark_labels() == ["100.0 px"]
    assert panel.actions_by_key["calibrate"].isEnabled()
    panel.actions_by_key["calibrate"].trigger()
    click(qtbot, panel, 100, 300)
    click(qtbot, panel, 300, 300)  # 200 px that are 50 mm long
    answer_dialog(qtbot, panel, "calibration", 50.0)
    qtbot.waitUntil(lambda: viewer.calibration_mm_per_pixel is not None)
    assert viewer.calibration_mm_per_pixel == pytest.approx(0.25)
    assert viewer.mark_labels() == ["25.0 mm"]


def test_patients_cannot_draw(qtbot: QtBot) -> None:
    panel = XRayViewerPanel(can_annotate=False)
    qtbot.addWidget(panel)
    panel.show_image(DisplayImage(radiograph_pixels(64, 48), 0.0, 1.0, 16, metadata(None)))
    for key in ("line", "angle", "arrow", "text", "calibrate", "delete"):
        assert not panel.actions_by_key[key].isEnabled()
    assert panel.actions_by_key["invert"].isEnabled()


def test_every_tool_has_a_shortcut_shown_in_the_help(qtbot: QtBot, panel: XRayViewerPanel) -> None:
    shortcuts = [action.shortcut().toString() for action in panel.actions_by_key.values()]
    assert all(shortcuts)
    assert len(set(shortcuts)) == len(shortcuts)
    for action in panel.actions_by_key.values():
        assert f"({action.shortcut().toString()})" in action.toolTip()
    qtbot.keyClick(panel.viewer, Qt.Key.Key_F1)
    assert panel.help_overlay.isVisible()
    help_text = panel.help_overlay.text()
    for shortcut in shortcuts:
        assert f"<b>{shortcut}</b>" in help_text
    qtbot.keyClick(panel.viewer, Qt.Key.Key_F1)
    assert not panel.help_overlay.isVisible()


def test_magnifier_follows_the_cursor(qtbot: QtBot, panel: XRayViewerPanel) -> None:
    qtbot.keyClick(panel.viewer, Qt.Key.Key_M)
    assert panel.magnifier.isVisible()
    spot = at(panel, 400, 300)
    qtbot.mouseMove(panel.viewer.viewport(), spot)
    qtbot.waitUntil(lambda: not panel.magnifier_pixmap().isNull())
    assert panel.magnifier.pos() == spot + QPoint(24, 24)
    lens = panel.magnifier_pixmap().toImage()
    greys = {lens.pixelColor(x, y).red() for x in range(0, 200, 10) for y in range(0, 200, 10)}
    assert len(greys) > 5  # an image, not an empty glass


def test_export_the_view(qtbot: QtBot, panel: XRayViewerPanel, tmp_path: Path) -> None:
    panel.actions_by_key["line"].trigger()
    click(qtbot, panel, 100, 100)
    click(qtbot, panel, 300, 100)
    target = tmp_path / "view.png"
    assert panel.export_to(target)
    from PIL import Image

    with Image.open(target) as exported:
        size = exported.size
    viewport = panel.viewer.viewport()
    assert size == (viewport.width(), viewport.height())


def test_a_distance_is_measured_by_press_drag_release_too(
    qtbot: QtBot, panel: XRayViewerPanel
) -> None:
    viewer = panel.viewer
    qtbot.keyClick(viewer, Qt.Key.Key_1)
    qtbot.keyClick(viewer, Qt.Key.Key_D)
    port = viewer.viewport()
    qtbot.mousePress(port, Qt.MouseButton.LeftButton, pos=at(panel, 100, 100))
    qtbot.mouseMove(port, at(panel, 200, 100))
    qtbot.mouseRelease(port, Qt.MouseButton.LeftButton, pos=at(panel, 300, 100))
    assert viewer.mark_labels() == ["20.0 mm"]  # 200 columns × 0.1 mm
    # A click that does not move is a click: one point, the line waits for the second.
    click(qtbot, panel, 100, 200)
    assert len(viewer.annotations()) == 1
    click(qtbot, panel, 100, 250)
    assert viewer.mark_labels() == ["20.0 mm", "10.0 mm"]


def test_a_patient_s_help_lists_only_the_patient_s_tools(qtbot: QtBot) -> None:
    reader = XRayViewerPanel(can_annotate=False)
    qtbot.addWidget(reader)
    reader.show_image(DisplayImage(radiograph_pixels(64, 48), bits=16, metadata=metadata(None)))
    text = reader.help_text()
    assert "Zoom in" in text
    drawing = [spec for tool, spec in MARK_TOOLS.items() if tool != Tool.navigate]
    for spec in [*drawing, OTHER["delete"]]:
        assert spec.key in EDITING
        assert spec.tip.replace(":", "")[:20] not in text.replace(":", "")
