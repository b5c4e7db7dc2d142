"""A doctor's day: the queue, answering with the x-ray and history beside, patients' charts."""

from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.app import DesktopApp
from desktop.tabs.doctor import PatientsTab, PendingTab
from server.demo_images import radiograph_pixels, write_dicom
from tests.desktop.conftest import Server, column_texts, log_in, settle


def test_answer_the_queue_with_the_xray_and_history_beside(
    qtbot: QtBot, desktop: DesktopApp, server: Server, tmp_path: Path
) -> None:
    doctor = server.new_user("doctor")
    patient = server.new_user("patient", "Queue Patient")
    server.call(doctor.email, lambda api: api.patients("Queue Patient"))  # the doctor knows her
    image = tmp_path / "chest.dcm"
    write_dicom(image, radiograph_pixels(240, 300))
    xray = server.call(
        patient.email,
        lambda api: api.upload_xray(image, "Chest", "chest", None, None, lambda d, t: None),
    )
    server.call(doctor.email, lambda api: api.add_history(patient.id, "Asthma", "Since childhood"))
    asked = server.call(
        patient.email, lambda api: api.ask("Is my chest clear?", doctor.id, xray.id)
    )

    window = log_in(qtbot, desktop, doctor.email)
    tab = window.tab("Pending questions")
    assert isinstance(tab, PendingTab)
    settle(qtbot, desktop)
    ids = [tab.model.item(row).id for row in range(tab.model.rowCount())]
    assert asked.id in ids
    tab.list.select_row(ids.index(asked.id))
    qtbot.waitUntil(lambda: tab.xray.panel.viewer.has_image)
    assert "Is my chest clear?" in tab.thread_view.toPlainText()
    assert tab.xray.title.text() == "Chest"
    qtbot.waitUntil(lambda: tab.history.model.rowCount() == 1)
    assert column_texts(tab.history.model, 1) == ["Asthma"]

    qtbot.keyClicks(tab.answer.text_edit, "Your lungs are clear.")
    tab.answer.text_edit.setFocus()
    window.activateWindow()
    qtbot.keyClick(tab.answer.text_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: tab.answer.status.text() == "Answer sent.")
    settle(qtbot, desktop)
    assert asked.id not in [tab.model.item(row).id for row in range(tab.model.rowCount())]
    held = server.call(patient.email, lambda api: api.question(asked.id))
    assert held.status == "answered"
    assert [r.response_text for r in held.responses] == ["Your lungs are clear."]


def test_chart_result_and_history(
    qtbot: QtBot, desktop: DesktopApp, server: Server, tmp_path: Path
) -> None:
    doctor = server.new_user("doctor")
    patient = server.new_user("patient", "Chart Person")
    image = tmp_path / "knee.dcm"
    write_dicom(image, radiograph_pixels(200, 200, seed=7))
    xray = server.call(
        patient.email,
        lambda api: api.upload_xray(image, "Knee", "limb", None, None, lambda d, t: None),
    )

    window = log_in(qtbot, desktop, doctor.email)
    tab = window.tab("Patients")
    assert isinstance(tab, PatientsTab)
    qtbot.keyClicks(tab.picker.search_edit, "chart person")
    qtbot.keyClick(tab.picker.search_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: column_texts(tab.picker.model, 0) == ["Chart Person"])
    tab.picker.list.select_row(0)
    assert "Chart Person" in tab.header.text()
    chart = tab.chart
    settle(qtbot, desktop)
    assert chart.gallery.model.rowCount() == 1
    chart.gallery.view.setCurrentIndex(chart.gallery.model.index(0, 0))
    qtbot.waitUntil(lambda: chart.detail.panel.viewer.has_image)
    chart.detail.result_edit.setPlainText("Mild degenerative change.")
    qtbot.mouseClick(chart.detail.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: chart.detail.status.text() == "Result saved.")
    saved = server.call(doctor.email, lambda api: api.xray(xray.id))
    assert (saved.result_of_xray, saved.result_final) == ("Mild degenerative change.", False)
    assert server.call(patient.email, lambda api: api.xray(xray.id)).result_of_xray is None
    chart.detail.final_check.setChecked(True)
    chart.detail.save_button.click()
    qtbot.waitUntil(lambda: "The patient can read it." in chart.detail.status.text())
    final = server.call(patient.email, lambda api: api.xray(xray.id))
    assert final.result_of_xray == "Mild degenerative change."

    chart.setCurrentIndex(1)
    history = chart.history
    assert not history.delete_button.isVisible()  # only admins delete
    qtbot.keyClicks(history.name_edit, "Knee arthroscopy")
    history.description_edit.setPlainText("Left knee, 2021")
    history.add_button.click()
    qtbot.waitUntil(lambda: column_texts(history.model, 1) == ["Knee arthroscopy"])
    history.list.select_row(0)
    history.name_edit.setText("Knee arthroscopy (left)")
    history.save_button.click()
    qtbot.waitUntil(lambda: column_texts(history.model, 1) == ["Knee arthroscopy (left)"])
    history.name_edit.setText("")
    history.add_button.click()
    qtbot.waitUntil(history.name_error.isVisible)
    held = server.call(patient.email, lambda api: api.histories(patient.id))
    assert [(h.name_of_surgery, h.description_of_surgery) for h in held.items] == [
        ("Knee arthroscopy (left)", "Left knee, 2021")
    ]
