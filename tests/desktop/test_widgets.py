"""Widgets and models on their own: the viewer's zoom and the paged model's fetch-more."""

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.viewer.image import DisplayImage
from desktop.viewer.view import MAX_ZOOM, MIN_ZOOM, XRayViewer
from server.demo_images import radiograph_pixels
from shared.windowing import Window, robust_window, window_lut


def wheel(viewer: XRayViewer, at: QPoint, steps: int) -> None:
    position = QPointF(at)
    event = QWheelEvent(
        position,
        QPointF(viewer.mapToGlobal(at)),
        QPoint(),
        QPoint(0, 120 * steps),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(viewer.viewport(), event)


def test_wheel_zooms_under_the_mouse_and_is_clamped(qtbot: QtBot) -> None:
    viewer = XRayViewer()
    qtbot.addWidget(viewer)
    viewer.resize(600, 500)
    viewer.show()
    viewer.set_image(DisplayImage(radiograph_pixels(1200, 1000), bits=16))
    assert viewer.fit_mode
    fitted = viewer.zoom
    assert 0.4 < fitted < 0.6

    spot = QPoint(420, 300)
    under_mouse = viewer.mapToScene(spot)
    with qtbot.waitSignal(viewer.zoom_changed):
        wheel(viewer, spot, 2)
    assert abs(viewer.zoom - fitted * 1.25**2) < 1e-6
    assert not viewer.fit_mode
    after = viewer.mapToScene(spot)
    assert abs(after.x() - under_mouse.x()) < 2
    assert abs(after.y() - under_mouse.y()) < 2

    for _ in range(40):
        wheel(viewer, spot, 3)
    assert viewer.zoom == MAX_ZOOM
    for _ in range(60):
        wheel(viewer, spot, -3)
    assert viewer.zoom == MIN_ZOOM

    viewer.fit_to_window()
    viewer.resize(300, 250)
    QApplication.processEvents()
    assert abs(viewer.zoom - fitted / 2) < 0.02  # fit mode follows the window
    viewer.actual_size()
    assert viewer.zoom == 1.0


def test_window_lut_maps_the_window_onto_the_grey_scale() -> None:
    lut = window_lut(16, -1024.0, 1.0, Window(center=40, width=400), inverted=False)
    assert lut.dtype == np.uint8
    assert lut.shape == (65536,)
    # stored 1024 is 0 HU; the window spans -160..240 HU, i.e. stored 864..1264
    assert lut[864] == 0
    assert lut[1264 + 1] == 255
    assert 120 <= lut[1024 + 40] <= 135
    inverted = window_lut(16, -1024.0, 1.0, Window(center=40, width=400), inverted=True)
    assert inverted[864] == 255


def test_robust_window_spreads_the_radiograph_over_the_grey_scale() -> None:
    values = radiograph_pixels(400, 300)
    window = robust_window(values, 0.0, 1.0)
    grey = window_lut(16, 0.0, 1.0, window, inverted=False)[values]
    assert grey.min() == 0
    assert grey.max() >= 254  # the brightest half-percent is clipped to white
    assert 0 < window.width < 4096
