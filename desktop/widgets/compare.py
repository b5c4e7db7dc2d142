"""Two x-rays of one patient side by side, with zoom, pan and window/level linked or not."""

from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QSplitter, QVBoxLayout, QWidget

from desktop.images import ViewerData
from desktop.operations import imaging as imaging_ops
from desktop.session import Session
from desktop.viewer.panel import XRayViewerPanel
from shared.models import XRay
from shared.windowing import Window


class ComparePane(QWidget):
    def __init__(self, session: Session, xrays: list[XRay], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self.xrays = xrays
        self.choice = QComboBox(self)
        for xray in xrays:
            self.choice.addItem(f"{xray.name_of_xray} ({xray.created_at:%Y-%m-%d})", xray.id)
        self.panel = XRayViewerPanel(self)
        self.choice.currentIndexChanged.connect(self._load)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.choice)
        layout.addWidget(self.panel, 1)

    def choose(self, xray_id: int) -> None:
        index = self.choice.findData(xray_id)
        if index == self.choice.currentIndex():
            self._load(index)
        else:
            self.choice.setCurrentIndex(index)

    def _load(self, index: int) -> None:
        if not 0 <= index < len(self.xrays):
            return
        xray, session = self.xrays[index], self._session

        def loaded(data: ViewerData) -> None:
            self.panel.show_image(data.image)

        task = imaging_ops.load(
            session, xray, loaded, lambda error: self.panel.show_message(error.detail)
        )
        task.progressed.connect(self.panel.show_loading)


class CompareWindow(QWidget):
    """Opened from an x-ray: it on the left, another of the same patient on the right."""

    def __init__(
        self, session: Session, xrays: list[XRay], first: XRay, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Compare x-rays — {session.name(first.user_id, 'patient')}")
        self.left = ComparePane(session, xrays, self)
        self.right = ComparePane(session, xrays, self)
        self.link = QCheckBox("Link zoom, pan and window/level", self)
        self.link.setChecked(True)
        splitter = QSplitter(self)
        splitter.addWidget(self.left)
        splitter.addWidget(self.right)
        header = QHBoxLayout()
        header.addWidget(self.link)
        header.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(splitter, 1)
        self._syncing = False
        for source, target in ((self.left, self.right), (self.right, self.left)):
            source.panel.viewer.view_changed.connect(
                lambda s=source, t=target: self._follow_view(s, t)
            )
            source.panel.viewer.window_changed.connect(
                lambda center, width, t=target: self._follow_window(t, center, width)
            )
        self.left.choose(first.id)
        others = [xray for xray in xrays if xray.id != first.id]
        self.right.choose(others[0].id if others else first.id)
        self.resize(1400, 800)

    def _follow_view(self, source: ComparePane, target: ComparePane) -> None:
        viewer, other = source.panel.viewer, target.panel.viewer
        if self._syncing or not self.link.isChecked() or not (viewer.has_image and other.has_image):
            return
        self._syncing = True
        try:
            # The same zoom, and the same relative point of each image in the centre.
            width, height = viewer.image_size
            other_width, other_height = other.image_size
            center = viewer.view_center()
            other.set_zoom(viewer.zoom)
            other.center_on_image_point(
                QPointF(center.x() / width * other_width, center.y() / height * other_height)
            )
        finally:
            self._syncing = False

    def _follow_window(self, target: ComparePane, center: float, width: float) -> None:
        if self._syncing or not self.link.isChecked() or not target.panel.viewer.has_image:
            return
        self._syncing = True
        try:
            target.panel.viewer.set_window(Window(center, width))
        finally:
            self._syncing = False
