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
    def __init__(
        self,
        session: Session,
        xrays: list[XRay],
        parent: QWidget | None = None,
        *,
        help_anywhere: bool = False,
    ) -> None:
        super().__init__(parent)
        self._session = session
        self.xrays = xrays
        self.choice = QComboBox(self)
        for xray in xrays:
            self.choice.addItem(f"{xray.name_of_xray} ({xray.created_at:%Y-%m-%d})", xray.id)
        self.panel = XRayViewerPanel(self, help_anywhere_in_window=help_anywhere)
        self.loading = False
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
            # Each side opens fitted, in its own window: the other side does not follow this.
            self.loading = True
            try:
                self.panel.show_image(data.image)
            finally:
                self.loading = False

        task = imaging_ops.load(
            session, xray, loaded, lambda error: self.panel.show_message(error.detail)
        )
        task.progressed.connect(self.panel.show_loading)


def counterpart(first: XRay, xrays: list[XRay]) -> XRay:
    """The film to compare `first` with: the most recent earlier one of the same kind (the
    same body part), else the most recent other of that kind, else the most recent other."""
    others = sorted((x for x in xrays if x.id != first.id), key=lambda x: x.created_at)
    same_kind = [x for x in others if x.type_of_xray == first.type_of_xray]
    earlier = [x for x in same_kind if x.created_at <= first.created_at]
    for candidates in (earlier, same_kind, others):
        if candidates:
            return candidates[-1]
    return first


class CompareWindow(QWidget):
    """Opened from an x-ray: it on the left, another of the same patient on the right."""

    def __init__(
        self, session: Session, xrays: list[XRay], first: XRay, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Compare x-rays — {session.name(first.user_id, 'patient')}")
        self.left = ComparePane(session, xrays, self, help_anywhere=True)
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
                lambda center, width, s=source, t=target: self._follow_window(s, t, center, width)
            )
        self.left.choose(first.id)
        self.right.choose(counterpart(first, xrays).id)
        self.resize(1400, 800)

    def _linked(self, source: ComparePane, target: ComparePane) -> bool:
        return (
            not self._syncing
            and self.link.isChecked()
            and not (source.loading or target.loading)
            and source.panel.viewer.has_image
            and target.panel.viewer.has_image
        )

    def _follow_view(self, source: ComparePane, target: ComparePane) -> None:
        viewer, other = source.panel.viewer, target.panel.viewer
        if not self._linked(source, target):
            return
        self._syncing = True
        try:
            # The same magnification relative to each one's fitted size (two films of
            # different sizes stay comparable), and the same relative point in the centre.
            width, height = viewer.image_size
            other_width, other_height = other.image_size
            center = viewer.view_center()
            other.set_zoom(other.fitted_zoom() * viewer.zoom / viewer.fitted_zoom())
            other.center_on_image_point(
                QPointF(center.x() / width * other_width, center.y() / height * other_height)
            )
        finally:
            self._syncing = False

    def _follow_window(
        self, source: ComparePane, target: ComparePane, center: float, width: float
    ) -> None:
        if not self._linked(source, target):
            return
        self._syncing = True
        try:
            # The same window relative to each film's own range of values: a 16-bit film
            # and an 8-bit one brighten and widen together rather than take equal numbers.
            mine, theirs = (
                source.panel.viewer.modality_range(),
                target.panel.viewer.modality_range(),
            )
            scale = theirs.width / mine.width
            low, other_low = mine.center - mine.width / 2, theirs.center - theirs.width / 2
            target.panel.viewer.set_window(
                Window(other_low + (center - low) * scale, max(width * scale, 1e-6))
            )
        finally:
            self._syncing = False
