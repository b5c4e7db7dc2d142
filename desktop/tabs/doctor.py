"""A doctor's tabs: the queue of pending questions, and patients' charts."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton, QSplitter, QTabWidget, QVBoxLayout, QWidget

from desktop.http import ApiError
from desktop.live import Follower
from desktop.operations import questions as question_ops
from desktop.operations import xrays as xray_ops
from desktop.roles import writes_results
from desktop.session import Session
from desktop.widgets.history import HistoryPanel
from desktop.widgets.lazy import when_first_shown
from desktop.widgets.patients import PatientRecordsTab
from desktop.widgets.questions import AnswerForm, questions_model
from desktop.widgets.tables import ListPanel
from desktop.widgets.thread_view import ThreadView
from desktop.xrays.detail import XRayDetail
from shared.enums import EventType
from shared.models import Question


class PendingTab(QWidget):
    """The queue, oldest first. Opening a question shows the patient, the attached x-ray and
    the patient's history beside it; sending the answer updates the queue."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self._session = session
        self.model = questions_model(session, self)
        self.list = ListPanel(self.model, "Filter the queue…", self)
        self.thread_view = ThreadView(self)
        self.answer = AnswerForm(session, self)
        self.patient_label = QLabel("", self)
        self.patient_label.setStyleSheet("font-weight: bold;")
        self.xray = XRayDetail(session, can_write_result=writes_results(session.user), parent=self)
        self.history = HistoryPanel(session, editable=False, deletable=False, parent=self)
        context = QTabWidget(self)
        context.addTab(self.xray, "Attached x-ray")
        context.addTab(self.history, "Medical history")
        self.context = context
        # The film a question is about is beside it already: the link brings it to the front.
        self.thread_view.xray_requested.connect(lambda _id: context.setCurrentWidget(self.xray))
        question = QWidget(self)
        question_layout = QVBoxLayout(question)
        question_layout.addWidget(self.patient_label)
        question_layout.addWidget(self.thread_view, 2)
        question_layout.addWidget(self.answer, 1)
        question.setMinimumWidth(360)  # the answer is written here: room for sentences
        right = QSplitter(Qt.Orientation.Horizontal, self)
        right.addWidget(question)
        right.addWidget(context)
        right.setStretchFactor(0, 2)
        right.setStretchFactor(1, 3)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.list)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 4)
        splitter.setSizes([160, 700])
        QVBoxLayout(self).addWidget(splitter)
        self.take_button = QPushButton("Take this question", self)
        self.take_button.setToolTip("Make it yours: it leaves the other doctors' queues")
        self.take_button.clicked.connect(self.take)
        self.list.header.addWidget(self.take_button)
        self.list.selected.connect(self.open_question)
        self.list.current_updated.connect(self._updated)
        self.answer.answered.connect(lambda _response: self.model.refresh())
        self.model.modelReset.connect(lambda: self.open_question(None))
        queue_events = (
            EventType.question_created,
            EventType.question_answered,
            EventType.question_claimed,
        )
        Follower(session.live, queue_events, lambda _event: self.model.refresh(), self)
        when_first_shown(self, lambda: self.model.set_fetcher(question_ops.pending(session)))

    def _updated(self, question: Question) -> None:
        """The open question changed on the server: show it, keep the answer being typed."""
        self.thread_view.show_question(question, self._session.names)
        self.answer.question = question
        self._offer_taking(question)

    def _offer_taking(self, question: Question | None) -> None:
        self.take_button.setVisible(question is not None and question.doctor_id is None)

    def take(self) -> None:
        question = self.list.current_item()
        if question is None:
            return
        self.take_button.setEnabled(False)

        def taken(mine: Question) -> None:
            self.take_button.setEnabled(True)
            self.answer.status.setText("The question is yours now.")
            self.model.merge([mine if q.id == mine.id else q for q in self.model.items])

        def refused(error: ApiError) -> None:
            self.take_button.setEnabled(True)
            self.answer.status.setText(error.detail)
            self.model.refresh()

        question_ops.claim(self._session, question.id, taken, refused)

    def open_question_id(self, question_id: int) -> None:
        """Show a question of the queue (a notification's click)."""
        self.list.select_id(question_id)

    def open_question(self, question: Question | None) -> None:
        self.thread_view.show_question(question, self._session.names)
        self.answer.set_question(question)
        self._offer_taking(question)
        if question is None:
            self.patient_label.setText("Select a question from the queue.")
            self.xray.show_xray(None)
            self.history.show_patient(None)
            return
        self.patient_label.setText(f"From {self._session.name(question.patient_id)}")
        self.history.show_patient(question.patient_id)
        if question.xray_id is None:
            self.xray.show_xray(None)
            self.xray.title.setText("No x-ray attached")
            self.xray.panel.show_message("The patient attached no x-ray to this question.")
            self.context.setCurrentWidget(self.history)
            return
        xray_ops.one(
            self._session,
            question.xray_id,
            self.xray.show_xray,
            lambda error: self.xray.panel.show_message(error.detail),
        )
        self.context.setCurrentWidget(self.xray)


class PatientsTab(PatientRecordsTab):
    """Find a patient; their chart."""
