"""Questions: the list, the thread, asking one and answering one."""

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.drafts import Draft
from desktop.http import ApiError
from desktop.models.paged import Column, PagedTableModel, display
from desktop.operations import questions as question_ops
from desktop.runner import Task
from desktop.session import Session
from desktop.widgets.forms import clear_errors, error_label, show_error
from desktop.widgets.lazy import whenever_shown
from shared.models import DoctorSummary, Question, Response, XRay

QUESTION_DRAFT = ("question", 0)


def question_columns(session: Session) -> list[Column[Question]]:
    return [
        Column("Asked", lambda q: q.created_at),
        Column("Patient", lambda q: q.patient_name or session.name(q.patient_id)),
        Column("Doctor", lambda q: q.doctor_name or session.name(q.doctor_id)),
        Column("Status", lambda q: q.status.value),
        Column("Answers", lambda q: len(q.responses)),
        Column("Question", lambda q: q.question_text.replace("\n", " ")),
    ]


def questions_model(session: Session, parent: QWidget) -> PagedTableModel[Question]:
    model = PagedTableModel[Question](session.submit, question_columns(session), parent)

    def learn_names(_parent: object, first: int, last: int) -> None:
        # Questions carry the names of their patient and doctor: the thread view and the
        # labels show people, not ids.
        for row in range(first, last + 1):
            question = model.item(row)
            if question.patient_name:
                session.names[question.patient_id] = question.patient_name
            if question.doctor_id is not None and question.doctor_name:
                session.names[question.doctor_id] = question.doctor_name

    model.rowsInserted.connect(learn_names)
    return model


class AskForm(QWidget):
    """A patient's new question: to a chosen doctor or any, optionally about one x-ray."""

    asked = Signal(object)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self.text_edit = QPlainTextEdit(self)
        self.text_edit.setAccessibleName("Question")
        self.text_edit.setTabChangesFocus(True)  # Tab moves on to the doctor, as in a form
        self.text_edit.setPlaceholderText("Describe your question for the doctor…")
        self.doctor_combo = QComboBox(self)
        self.xray_combo = QComboBox(self)
        self.send_button = QPushButton("Send question (Ctrl+Enter)", self)
        self.send_button.setShortcut(QKeySequence("Ctrl+Return"))
        self.send_button.clicked.connect(self.send)
        self.text_error = error_label(self)
        self.doctor_error = error_label(self)
        self.xray_error = error_label(self)
        self.error = error_label(self)
        self.status = QLabel("", self)
        form = QFormLayout(self)
        form.addRow("Question", self.text_edit)
        form.addRow("", self.text_error)
        form.addRow("Doctor", self.doctor_combo)
        form.addRow("", self.doctor_error)
        form.addRow("X-ray", self.xray_combo)
        form.addRow("", self.xray_error)
        form.addRow("", self.send_button)
        form.addRow("", self.error)
        form.addRow("", self.status)
        self.text_edit.textChanged.connect(self._text_edited)
        # The films to ask about change (an upload since): offer the current ones every time.
        whenever_shown(self, self.refresh_choices)

    def _text_edited(self) -> None:
        text, session = self.text_edit.toPlainText(), self._session
        if not text.strip():
            session.drafts.drop(QUESTION_DRAFT)
            return

        def save() -> Task:
            doctor_id, xray_id = self.doctor_combo.currentData(), self.xray_combo.currentData()
            return question_ops.ask(
                session,
                text.strip(),
                doctor_id,
                xray_id,
                lambda _q: session.drafts.drop(QUESTION_DRAFT),
                lambda _error: None,
            )

        session.drafts.keep(QUESTION_DRAFT, Draft("your question to the doctor", text, save))

    def _fields(self) -> dict[str, QLabel]:
        return {
            "question_text": self.text_error,
            "doctor_id": self.doctor_error,
            "xray_id": self.xray_error,
        }

    def refresh_choices(self) -> None:
        """Reload the doctors and the patient's x-rays to choose from."""
        session = self._session

        def fill(choices: tuple[list[DoctorSummary], list[XRay]]) -> None:
            doctors, xrays = choices
            session.remember(doctors)
            self.doctor_combo.clear()
            self.doctor_combo.addItem("Any doctor", None)
            for doctor in doctors:
                self.doctor_combo.addItem(doctor.full_name, doctor.id)
            self.xray_combo.clear()
            self.xray_combo.addItem("No x-ray", None)
            for xray in xrays:
                self.xray_combo.addItem(
                    f"{xray.name_of_xray} · {display(xray.created_at)[:10]}", xray.id
                )

        question_ops.choices_for_asking(session, fill, lambda error: show_error(error, self.error))

    def send(self) -> None:
        text = self.text_edit.toPlainText().strip()
        doctor_id, xray_id = self.doctor_combo.currentData(), self.xray_combo.currentData()
        self.send_button.setEnabled(False)
        clear_errors(self.error, self._fields())

        self.status.setText("")  # only this attempt's outcome is shown

        def sent(question: Question) -> None:
            self.send_button.setEnabled(True)
            self.text_edit.clear()
            self._session.drafts.drop(QUESTION_DRAFT)
            self.status.setText("Your question was sent.")
            self.asked.emit(question)

        def failed(error: ApiError) -> None:
            self.send_button.setEnabled(True)
            show_error(error, self.error, self._fields())

        question_ops.ask(self._session, text, doctor_id, xray_id, sent, failed)


class AnswerForm(QWidget):
    """A doctor's answer to the question shown above it (Ctrl+Enter sends)."""

    answered = Signal(object)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self.question: Question | None = None
        self.text_edit = QPlainTextEdit(self)
        self.text_edit.setAccessibleName("Answer")
        self.text_edit.setTabChangesFocus(True)
        self.text_edit.setPlaceholderText("Write the answer…")
        self.text_edit.setMaximumHeight(140)
        self.send_button = QPushButton("Send answer (Ctrl+Enter)", self)
        self.send_button.clicked.connect(self.send)
        shortcut = QShortcut(QKeySequence("Ctrl+Return"), self.text_edit)
        shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
        shortcut.activated.connect(self.send)
        self.text_error = error_label(self)
        self.error = error_label(self)
        self.status = QLabel("", self)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.send_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text_edit)
        layout.addWidget(self.text_error)
        layout.addLayout(buttons)
        layout.addWidget(self.error)
        self._filling = False
        # "Answer sent." outlives the move to the next question: the answered one leaves the
        # queue, and the next is opened at once (as soon as the queue reloads, often before
        # the doctor has seen the confirmation).
        self._keep_status = False
        self.text_edit.textChanged.connect(self._text_edited)
        self.set_question(None)

    def set_question(self, question: Question | None) -> None:
        self.question = question
        self.send_button.setEnabled(question is not None)
        self.text_edit.setEnabled(question is not None)
        clear_errors(self.error, {"response_text": self.text_error})
        if question is not None and not self._keep_status:
            self.status.setText("")
        self._keep_status = self._keep_status and question is None  # kept once, not forever
        draft = self._session.drafts.get(("answer", question.id)) if question else None
        self._filling = True
        self.text_edit.setPlainText(draft.value if draft else "")
        self._filling = False
        if draft is not None:
            self.status.setText("Your unsaved answer is back.")

    def _text_edited(self) -> None:
        question, session = self.question, self._session
        if self._filling or question is None:
            return
        key, text = ("answer", question.id), self.text_edit.toPlainText()
        if not text.strip():
            session.drafts.drop(key)
            return

        def save() -> Task:
            return question_ops.answer(
                session,
                question.id,
                text.strip(),
                lambda _r: session.drafts.drop(key),
                lambda _error: None,
            )

        who = question.patient_name or "the patient"
        session.drafts.keep(key, Draft(f"your answer to {who}", text, save))

    def send(self) -> None:
        question = self.question
        if question is None:
            return
        text = self.text_edit.toPlainText().strip()
        self.send_button.setEnabled(False)
        self.status.setText("")

        def sent(response: Response) -> None:
            self.send_button.setEnabled(True)
            self._session.drafts.drop(("answer", question.id))
            self._filling = True
            self.text_edit.clear()
            self._filling = False
            self.status.setText("Answer sent.")
            self._keep_status = True
            self.answered.emit(response)

        def failed(error: ApiError) -> None:
            self.send_button.setEnabled(True)
            show_error(error, self.error, {"response_text": self.text_error})

        question_ops.answer(self._session, question.id, text, sent, failed)
