"""Finding a patient, and a patient's chart: x-rays, medical history, questions."""

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.models.paged import Column, PagedTableModel
from desktop.operations import people as people_ops
from desktop.operations import questions as question_ops
from desktop.operations import xrays as xray_ops
from desktop.roles import (
    answers_questions,
    deletes_records,
    keeps_histories,
    writes_results,
)
from desktop.session import Session
from desktop.widgets.confirm import confirm
from desktop.widgets.forms import error_label, set_message
from desktop.widgets.history import HistoryPanel
from desktop.widgets.lazy import when_first_shown
from desktop.widgets.questions import questions_model
from desktop.widgets.tables import ListPanel
from desktop.widgets.thread_view import ThreadView
from desktop.xrays.detail import XRayDetail
from desktop.xrays.model import XRayGallery
from desktop.xrays.upload import UploadQueue
from shared.models import User


class PatientPicker(QWidget):
    """Search patients by name, email or phone (on the server); pick one."""

    picked = Signal(object)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = session
        columns = [
            Column[User]("Name", lambda u: u.full_name),
            Column[User]("Record no.", lambda u: u.medical_record_number),
            Column[User]("Email", lambda u: u.email),
            Column[User]("Phone", lambda u: u.phone),
        ]
        self.model = PagedTableModel[User](session.submit, columns, self)
        self.model.rowsInserted.connect(lambda *_: session.remember(self.model.items))
        self.search_edit = QLineEdit(self)
        self.search_edit.setPlaceholderText(
            "Find a patient by name, email, phone or record number, then Enter"
        )
        self.search_edit.setAccessibleName("Find a patient")
        self.search_edit.returnPressed.connect(self.search)
        self.list = ListPanel(self.model, "Filter the results…", self)
        self.list.selected.connect(self.picked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search_edit)
        layout.addWidget(self.list, 1)
        when_first_shown(self, self.search)

    def search(self) -> None:
        text = self.search_edit.text().strip()
        self.model.set_fetcher(people_ops.patients(self._session, text))


class PatientChart(QTabWidget):
    """One patient's records. Doctors write results and keep the history; admins also delete."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = session
        user = session.user
        self.patient: User | None = None
        self.gallery = XRayGallery(session, self)
        self.uploads = UploadQueue(session, self)
        self.detail = XRayDetail(session, can_write_result=writes_results(user), parent=self)
        self.delete_xray_button = QPushButton("Delete x-ray…", self)
        self.delete_xray_button.setVisible(deletes_records(user))
        self.delete_xray_button.clicked.connect(self.delete_xray)
        self.xray_error = error_label(self)
        xray_page = QSplitter(Qt.Orientation.Horizontal, self)
        left = QWidget(xray_page)
        left.setMinimumWidth(190)  # one column of tiles
        left.setMaximumWidth(340)  # the viewer gets the room
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(self.uploads)
        left_layout.addWidget(self.gallery, 1)
        left_layout.addWidget(self.delete_xray_button)
        left_layout.addWidget(self.xray_error)
        xray_page.addWidget(left)
        xray_page.addWidget(self.detail)
        xray_page.setStretchFactor(0, 1)
        xray_page.setStretchFactor(1, 3)
        self.gallery.selected.connect(self.detail.show_xray)
        # Deleting acts on the selected film: offered only while one is selected.
        self.gallery.selected.connect(
            lambda xray: self.delete_xray_button.setEnabled(xray is not None)
        )
        self.gallery.model.modelReset.connect(lambda: self.delete_xray_button.setEnabled(False))
        self.delete_xray_button.setEnabled(False)
        self.gallery.opened.connect(self.detail.show_xray)
        self.uploads.uploaded.connect(lambda _xray: self._reload_xrays())
        self.detail.updated.connect(lambda _xray: self.gallery.model.refresh())

        self.history = HistoryPanel(
            session, editable=keeps_histories(user), deletable=deletes_records(user), parent=self
        )

        self.questions = questions_model(session, self)
        self.question_list = ListPanel(self.questions, "Filter the questions…", self)
        self.question_thread = ThreadView(self)
        self.question_list.selected.connect(
            lambda question: self.question_thread.show_question(question, session.names)
        )
        question_page = QSplitter(Qt.Orientation.Horizontal, self)
        question_page.addWidget(self.question_list)
        question_page.addWidget(self.question_thread)

        self.addTab(xray_page, "X-rays")
        self.addTab(self.history, "Medical history")
        if answers_questions(user):
            self.addTab(question_page, "Questions with me")
        else:
            question_page.setVisible(False)
        self.show_patient(None)

    def show_patient(self, patient: User | None) -> None:
        self.patient = patient
        self.setEnabled(patient is not None)
        patient_id = patient.id if patient is not None else None
        self.uploads.patient_id = patient_id
        self.detail.show_xray(None)
        self.gallery.show_patient(self._session, patient_id)
        self.history.show_patient(patient_id)
        # Only a doctor has conversations: an admin asking would be refused, and the refusal
        # would stand in the patient's access log.
        if patient is None or not answers_questions(self._session.user):
            self.questions.clear()
        else:
            self.questions.set_fetcher(question_ops.with_patient(self._session, patient.id))

    def _reload_xrays(self) -> None:
        self.gallery.show_patient(self._session, self.patient.id if self.patient else None)

    def delete_xray(self) -> None:
        xray = self.gallery.current()
        if xray is None:
            return

        def deleted(_result: object) -> None:
            set_message(self.xray_error, "")
            self.detail.show_xray(None)
            self._reload_xrays()

        confirm(
            self,
            "Delete x-ray",
            f"Delete “{xray.name_of_xray}”? It is kept for retention but no longer shown "
            "to anyone.",
            lambda: xray_ops.delete(
                self._session,
                xray.id,
                deleted,
                lambda error: set_message(self.xray_error, error.detail),
            ),
        )


def patient_header(parent: QWidget) -> QLabel:
    label = QLabel("Pick a patient.", parent)
    label.setStyleSheet("font-weight: bold; font-size: 14px;")
    return label


def describe(patient: User | None) -> str:
    if patient is None:
        return "Pick a patient."
    number = f"record {patient.medical_record_number} · " if patient.medical_record_number else ""
    return f"{patient.full_name} · {number}{patient.email} · {patient.phone or 'no phone'}"


class PatientRecordsTab(QWidget):
    """Find a patient on the left; their chart on the right (doctors' Patients, admins' Records)."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.picker = PatientPicker(session, self)
        self.header = patient_header(self)
        self.chart = PatientChart(session, self)
        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.header)
        right_layout.addWidget(self.chart, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self.picker)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setCollapsible(1, False)
        self.picker.setMinimumWidth(180)
        splitter.setSizes([220, 1000])  # the chart, and its viewer, get the room
        QVBoxLayout(self).addWidget(splitter)
        self.picker.picked.connect(self.open_patient)

    def open_patient(self, patient: User | None) -> None:
        self.header.setText(describe(patient))
        self.chart.show_patient(patient)
