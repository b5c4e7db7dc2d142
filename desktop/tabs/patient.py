"""A patient's tabs: questions, x-rays, medical history, privacy."""

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QComboBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.live import Follower
from desktop.models.access_log import AccessLogModel
from desktop.operations import audit as audit_ops
from desktop.operations import questions as question_ops
from desktop.operations import xrays as xray_ops
from desktop.roles import writes_results
from desktop.session import Session
from desktop.widgets.history import HistoryPanel
from desktop.widgets.lazy import when_first_shown
from desktop.widgets.questions import AskForm, questions_model
from desktop.widgets.tables import ListPanel
from desktop.widgets.thread_view import ThreadView
from desktop.xrays.detail import XRayDetail
from desktop.xrays.model import XRayGallery
from desktop.xrays.upload import UploadQueue
from shared.enums import EventType
from shared.models import Question


class QuestionsTab(QWidget):
    """My questions with their status; ask a new one; read the answers."""

    # The reader followed a question's link to its film: the window opens it in X-rays.
    xray_requested = Signal(int)
    seen = Signal(object)  # a question the reader now sees, answers and all

    def __init__(self, session: Session) -> None:
        super().__init__()
        self._session = session
        self.model = questions_model(session, self)
        self.list = ListPanel(self.model, "Filter my questions…", self)
        self.list.table.hideColumn(1)  # the patient is me
        self.status_combo = QComboBox(self)
        for label, status in (("All", None), ("Pending", "pending"), ("Answered", "answered")):
            self.status_combo.addItem(label, status)
        self.status_combo.currentIndexChanged.connect(self.reload)
        self.list.header.addWidget(self.status_combo)
        self.new_button = QPushButton("Ask a question…", self)
        self.list.header.addWidget(self.new_button)
        self.thread_view = ThreadView(self)
        self.thread_view.xray_requested.connect(self.xray_requested)
        self.ask_form = AskForm(session, self)
        self.right = QStackedWidget(self)
        self.right.addWidget(self.thread_view)
        self.right.addWidget(self.ask_form)
        self.new_button.clicked.connect(self.ask)
        self.ask_form.asked.connect(self._asked)
        self.list.selected.connect(self._show)
        self.list.current_updated.connect(self._show)
        answers = (EventType.question_answered, EventType.question_claimed)
        Follower(session.live, answers, lambda _event: self.model.refresh(), self)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self.list)
        splitter.addWidget(self.right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        QVBoxLayout(self).addWidget(splitter)
        when_first_shown(self, self.reload)

    def reload(self) -> None:
        status = self.status_combo.currentData()
        self.model.set_fetcher(question_ops.mine(self._session, status))

    def ask(self) -> None:
        """Show the question form with the cursor in its text box."""
        self.right.setCurrentWidget(self.ask_form)
        self.ask_form.text_edit.setFocus()

    def _show(self, question: Question | None) -> None:
        self.right.setCurrentWidget(self.thread_view)
        self.thread_view.show_question(question, self._session.names)
        if question is not None:
            self.seen.emit(question)

    def open_question_id(self, question_id: int) -> None:
        """Show one of my questions (a notification's click)."""
        self.status_combo.setCurrentIndex(0)
        self.list.select_id(question_id)

    def _asked(self, _question: Question) -> None:
        self.reload()


class XRaysTab(QWidget):
    """My x-rays as thumbnails; drop files here to upload; open one in the viewer."""

    seen = Signal(object)  # a film the reader now sees, with its result

    def __init__(self, session: Session) -> None:
        super().__init__()
        self._session = session
        self.setAcceptDrops(True)
        self.gallery = XRayGallery(session, self)
        self.uploads = UploadQueue(session, self)
        self.detail = XRayDetail(
            session, can_write_result=writes_results(session.user), parent=self
        )
        self.back_button = QPushButton("← All x-rays", self)
        self.back_button.clicked.connect(self.show_gallery)
        self.open_button = QPushButton("Open", self)
        self.open_button.clicked.connect(lambda: self.open_xray(self.gallery.current()))
        overview = QWidget(self)
        overview_layout = QVBoxLayout(overview)
        overview_layout.addWidget(self.uploads, 0)
        overview_layout.addWidget(self.gallery, 1)
        overview_layout.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignRight)
        viewer = QWidget(self)
        viewer_layout = QVBoxLayout(viewer)
        viewer_layout.addWidget(self.back_button, 0, Qt.AlignmentFlag.AlignLeft)
        viewer_layout.addWidget(self.detail, 1)
        self.pages = QStackedWidget(self)
        self.pages.addWidget(overview)
        self.pages.addWidget(viewer)
        QVBoxLayout(self).addWidget(self.pages)
        self.gallery.opened.connect(self.open_xray)
        self.detail.shown.connect(self.seen)
        self.uploads.uploaded.connect(
            lambda _xray: self.gallery.show_patient(session, session.user.id)
        )
        when_first_shown(self, lambda: self.gallery.show_patient(session, session.user.id))

    def open_xray(self, xray: object) -> None:
        if xray is None:
            return
        self.detail.show_xray(xray)  # type: ignore[arg-type]
        self.pages.setCurrentIndex(1)

    def open_xray_id(self, xray_id: int) -> None:
        """Open one of my films by its id (from a question's link)."""
        self.pages.setCurrentIndex(1)
        self.detail.panel.show_loading(0, 0)
        xray_ops.one(
            self._session,
            xray_id,
            self.open_xray,
            lambda error: self.detail.panel.show_message(error.detail),
        )

    def show_gallery(self) -> None:
        self.detail.show_xray(None)
        self.pages.setCurrentIndex(0)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls() and any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        files = [path for path in paths if path.is_file()]
        if files:
            self.show_gallery()
            self.uploads.add_files(files)
            event.acceptProposedAction()


class HistoryTab(HistoryPanel):
    """My surgeries and treatments, newest first."""

    def __init__(self, session: Session) -> None:
        super().__init__(session, editable=False, deletable=False)
        when_first_shown(self, lambda: self.show_patient(session.user.id))


class PrivacyTab(QWidget):
    """Who looked at or changed my records: a line per person, record and day."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.model = AccessLogModel(session.submit, self)
        self.list = ListPanel(self.model, "Filter the access log…", self)
        QVBoxLayout(self).addWidget(self.list)
        when_first_shown(self, lambda: self.model.set_fetcher(audit_ops.access_log(session)))
