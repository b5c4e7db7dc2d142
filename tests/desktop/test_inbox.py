"""The admin's DICOM inbox: a film from the x-ray machine for no known patient is seen, filed
under the right patient, and the doctor reading it is told that the file names someone else."""

import io

import pydicom
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.app import DesktopApp
from desktop.tabs.admin import RecordsTab
from desktop.tabs.inbox import InboxTab
from server.demo_images import radiograph_pixels, write_dicom
from server.seed import DEMO_PASSWORD
from tests.desktop.conftest import Server, column_texts, log_in, open_chart, settle
from tests.server.test_dimse import store


def machine_sends(server: Server, patient_id: str, name: str) -> str:
    """The x-ray machine C-STOREs a film; its SOPInstanceUID."""
    buffer = io.BytesIO()
    write_dicom(buffer, radiograph_pixels(96, 80, seed=9), patient_id=patient_id, patient_name=name)
    buffer.seek(0)
    dataset = pydicom.dcmread(buffer)
    assert store(server.dicom_port, [dataset]) == [0]
    return str(dataset.SOPInstanceUID)


def test_an_admin_files_an_unmatched_film_under_its_patient(
    qtbot: QtBot, desktop: DesktopApp, server: Server
) -> None:
    patient = server.new_user("patient", "Walter Inbox")
    doctor = server.new_user("doctor")
    uid = machine_sends(server, "WRONG-42", "Inbox^Walter^J")
    window = log_in(qtbot, desktop, "admin@medsys.example", DEMO_PASSWORD)
    inbox = window.tab("DICOM inbox")
    assert isinstance(inbox, InboxTab)
    qtbot.waitUntil(lambda: "WRONG-42" in column_texts(inbox.model, 1))
    row = column_texts(inbox.model, 1).index("WRONG-42")
    inbox.list.select_row(inbox.list.proxy.mapFromSource(inbox.model.index(row, 0)).row())
    assert "Inbox Walter J" in inbox.facts.text()
    qtbot.waitUntil(lambda: not inbox.picture.pixmap().isNull())
    assert not inbox.assign_button.isEnabled()  # whose it is comes first

    inbox.picker.search_edit.setText("Walter Inbox")
    inbox.picker.search()
    qtbot.waitUntil(lambda: inbox.picker.model.rowCount() == 1)
    inbox.picker.list.select_row(0)
    assert inbox.assign_button.text() == "Assign to Walter Inbox"
    qtbot.mouseClick(inbox.assign_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: inbox.status.text().startswith("Filed as") or inbox.error.isVisible())
    assert not inbox.error.isVisible(), inbox.error.text()
    assert "WRONG-42" not in column_texts(inbox.model, 1)
    settle(qtbot, desktop)

    films = server.call(doctor.email, lambda api: api.xrays(patient.id)).items
    assert [film.sop_instance_uid for film in films] == [uid]
    # The file's patient ID is not Walter's record number: whoever reads the film is told
    # first, above the result.
    records = window.tab("Records")
    assert isinstance(records, RecordsTab)
    open_chart(qtbot, desktop, records, "Walter Inbox")
    assert records.header.text().startswith(
        f"Walter Inbox · record {patient.medical_record_number}"
    )
    records.chart.detail.show_xray(records.chart.gallery.model.item(0))
    warning = records.chart.detail.identity_warning
    assert warning.isVisible()
    assert "WRONG-42" in warning.text()
