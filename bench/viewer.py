"""The radiograph viewer's speed and memory on a 3000×2500 16-bit radiograph in the local cache.

Prints: open → first paint, window/level update while dragging, zoom step (median and 95th
percentile over many repetitions), and the memory the open image costs.
Targets (issue 4): first paint < 300 ms, window/level < 30 ms, zoom step < 16 ms,
memory < 4× the raw pixels (3000×2500×2 bytes = 15 MB, so < 60 MB).

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m bench.viewer
"""

import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PIL import Image
from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from desktop.cache import ImageCache
from desktop.images import decode
from desktop.viewer.image import DisplayImage
from desktop.viewer.panel import XRayViewerPanel
from server.demo_images import radiograph_pixels

WIDTH, HEIGHT = 3000, 2500
REPEATS = 60


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class PaintClock(QObject):
    """Notes when the viewport has finished painting."""

    def __init__(self) -> None:
        super().__init__()
        self.painted_at = 0.0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Paint:
            self.painted_at = time.perf_counter()
        return False


def mouse(
    kind: QEvent.Type, at: QPoint, button: Qt.MouseButton, held: Qt.MouseButton
) -> QMouseEvent:
    position = QPointF(at)
    return QMouseEvent(kind, position, position, button, held, Qt.KeyboardModifier.NoModifier)


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"median {statistics.median(ordered):6.1f} ms, p95 {p95:6.1f} ms"


def main() -> None:
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as folder:
        cache = ImageCache(Path(folder))
        sha = "0" * 64
        cached_png = cache.pixels_path(1, sha)
        cached_png.parent.mkdir(parents=True)
        Image.fromarray(radiograph_pixels(WIDTH, HEIGHT, seed=5)).save(cached_png)
        cache.store(1, sha, {"X-Pixel-Offset": "0", "X-Pixel-Scale": "1", "X-Pixel-Bits": "16"})
        panel = XRayViewerPanel(can_annotate=True)
        panel.resize(1400, 1000)
        panel.show()
        app.processEvents()
        viewer = panel.viewer
        clock = PaintClock()
        viewer.viewport().installEventFilter(clock)
        memory_before = rss_mb()

        started = time.perf_counter()
        pixels = cache.lookup(1, sha)
        assert pixels is not None
        stored = decode(pixels)
        decoded = time.perf_counter()
        panel.show_image(DisplayImage(stored, pixels.offset, pixels.scale, pixels.bits))
        viewer.viewport().repaint()
        first_paint = clock.painted_at - started
        memory_after = rss_mb()

        # Window/level: right-button drag, one mouse move per sample, each painted.
        window_times = []
        viewport = viewer.viewport()
        start = QPoint(700, 500)
        right, none = Qt.MouseButton.RightButton, Qt.MouseButton.NoButton
        viewer.mousePressEvent(mouse(QEvent.Type.MouseButtonPress, start, right, right))
        for step in range(REPEATS):
            position = start + QPoint((step % 20) * 7, (step % 13) * 5)
            began = time.perf_counter()
            viewer.mouseMoveEvent(mouse(QEvent.Type.MouseMove, position, none, right))
            viewport.repaint()
            window_times.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        viewer.mouseReleaseEvent(mouse(QEvent.Type.MouseButtonRelease, start, right, none))
        viewport.repaint()
        full_render = (time.perf_counter() - began) * 1000

        zoom_times = []
        for step in range(REPEATS):
            factor = 1.25 if (step // 10) % 2 == 0 else 0.8
            began = time.perf_counter()
            viewer.zoom_by(factor, QPointF(700, 500))
            viewport.repaint()
            zoom_times.append((time.perf_counter() - began) * 1000)

        memory_open = memory_after - memory_before
        raw_mb = WIDTH * HEIGHT * 2 / 2**20
        decode_ms = (decoded - started) * 1000
        size = f"{viewport.width()}×{viewport.height()}"
        print(f"image {WIDTH}×{HEIGHT} 16-bit from the local cache, viewport {size}")
        print(f"open → first paint: {first_paint * 1000:.1f} ms (PNG decode {decode_ms:.1f} ms)")
        print(f"window/level while dragging: {percentiles(window_times)}")
        print(f"full-resolution render when the drag ends: {full_render:.1f} ms")
        print(f"zoom step: {percentiles(zoom_times)}")
        ratio = memory_open / raw_mb
        print(f"memory: {memory_open:.1f} MB = {ratio:.2f}× the raw {raw_mb:.1f} MB")
        print("targets: first paint < 300 ms, window/level < 30 ms, zoom < 16 ms, memory < 4×")
        print(
            json.dumps(
                {
                    "first_paint_ms": round(first_paint * 1000, 1),
                    "window_level_median_ms": round(statistics.median(window_times), 1),
                    "zoom_median_ms": round(statistics.median(zoom_times), 1),
                    "memory_ratio": round(memory_open / raw_mb, 2),
                }
            )
        )
        panel.close()


if __name__ == "__main__":
    main()
