"""A doctor's day: the queue, answering with the x-ray and history beside, patients' charts."""

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.app import DesktopApp
from desktop.tabs.doctor import PatientsTab, PendingTab
from desktop.viewer.view import XRayViewer
from server.demo_images import radiograph_pixels, write_dicom, write_png
from shared.windowing import Window, robust_window
from tests.desktop.conftest import Server, column_texts, log_in, open_chart, settle, sign
from tests.desktop.meanwhile import add_history, ask, upload
from tests.desktop.test_viewer import click


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
        lambda api: upload(api, image, "Chest", "chest"),
    )
    server.call(doctor.email, lambda api: add_history(api, patient.id, "Asthma", "Since childhood"))
    asked = server.call(
        patient.email, lambda api: ask(api, "Is my chest clear?", doctor.id, xray.id)
    )

    window = log_in(qtbot, desktop, doctor.email)
    tab = window.tab("Pending questions")
    assert isinstance(tab, PendingTab)
    settle(qtbot, desktop)
    ids = [tab.model.item(row).id for row in range(tab.model.rowCount())]
    assert asked.id in ids
    # A question that arrives meanwhile shows up with Refresh (F5).
    later = server.call(patient.email, lambda api: ask(api, "And my cough?", doctor.id, None))
    tab.list.table.setFocus()
    window.activateWindow()
    qtbot.keyClick(tab.list.table, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: later.id in [tab.model.item(r).id for r in range(tab.model.rowCount())])
    ids = [tab.model.item(row).id for row in range(tab.model.rowCount())]
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
    # The answered question left the queue and the next one opened: the confirmation stays.
    assert tab.answer.status.text() == "Answer sent."
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
        lambda api: upload(api, image, "Knee", "limb"),
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
    # The corners read as a viewer's do: who and what, the window, the zoom.
    overlays = chart.detail.panel.overlays.labels
    assert overlays["top_left"].text().startswith("Chart Person — Knee")
    assert "Study " in overlays["top_left"].text()
    assert overlays["top_right"].text().startswith("DX · CHEST · 200×200")
    viewer = chart.detail.panel.viewer
    assert viewer.current_window is not None
    assert overlays["bottom_left"].text() == (
        f"W {viewer.current_window.width:.0f}  L {viewer.current_window.center:.0f}"
    )
    assert overlays["bottom_right"].text() == f"Zoom {viewer.zoom * 100:.0f}%"
    assert overlays["bottom_left"].isVisible()
    result = chart.detail.result
    assert result.state.text() == "<b>No result yet</b>"
    result.result_edit.setPlainText("Mild degenerative change.")
    qtbot.mouseClick(result.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: result.status.text().startswith("Draft saved"))
    assert result.state.text().startswith("<b>Preliminary")
    saved = server.call(doctor.email, lambda api: api.xray(xray.id))
    assert (saved.result_of_xray, saved.result_status) == (
        "Mild degenerative change.",
        "preliminary",
    )
    assert server.call(patient.email, lambda api: api.xray(xray.id)).result_of_xray is None
    sign(qtbot, result)
    final = server.call(patient.email, lambda api: api.xray(xray.id))
    assert final.result_of_xray == "Mild degenerative change."
    assert final.result_signed_by_name == doctor.full_name
    # Signed: read-only, and what is added comes as an addendum.
    assert result.result_edit.isReadOnly()
    assert not result.sign_button.isVisible()
    assert result.state.text().startswith(f"<b>Final — signed by {doctor.full_name} on ")
    qtbot.mouseClick(result.addendum_button, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(result.addendum_edit, "Compare with the left knee.")
    qtbot.mouseClick(result.send_addendum_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: result.status.text().startswith("Addendum added"))
    assert result.state.text().startswith("<b>Amended")
    assert "Compare with the left knee." in result.addenda.text()
    amended = server.call(patient.email, lambda api: api.xray(xray.id))
    assert [a.text for a in amended.addenda] == ["Compare with the left knee."]

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


def test_measure_a_dicom_in_mm_save_the_marks_and_show_them_to_the_patient(
    qtbot: QtBot, desktop: DesktopApp, server: Server, tmp_path: Path
) -> None:

    doctor = server.new_user("doctor")
    patient = server.new_user("patient", "Measured Person")
    image = tmp_path / "spine.dcm"
    write_dicom(
        image,
        radiograph_pixels(600, 500),
        pixel_spacing_mm=(0.15, 0.12),
        patient_name="Measured^Person",
    )
    xray = server.call(
        patient.email,
        lambda api: upload(api, image, "Spine", "spine"),
    )

    window = log_in(qtbot, desktop, doctor.email)
    tab = window.tab("Patients")
    assert isinstance(tab, PatientsTab)
    open_chart(qtbot, desktop, tab, "Measured Person")
    detail = tab.chart.detail
    tab.chart.gallery.view.setCurrentIndex(tab.chart.gallery.model.index(0, 0))
    qtbot.waitUntil(lambda: detail.panel.viewer.has_image and detail.data is not None)
    panel = detail.panel
    assert panel.viewer.spacing == (0.15, 0.12)
    panel.viewer.actual_size()
    panel.actions_by_key["line"].trigger()
    click(qtbot, panel, 100, 100)
    click(qtbot, panel, 300, 100)  # 200 columns × 0.12 mm
    click(qtbot, panel, 100, 150)
    click(qtbot, panel, 100, 350)  # 200 rows × 0.15 mm
    assert panel.viewer.mark_labels() == ["24.0 mm", "30.0 mm"]
    assert detail.save_marks_button.isEnabled()
    detail.save_marks_button.click()
    qtbot.waitUntil(lambda: detail.status.text() == "Marks saved.")
    held = server.call(doctor.email, lambda api: api.annotations(xray.id))
    assert [a.kind for a in held.annotations] == ["line", "line"]
    assert held.author_id == doctor.id

    # The tag panel: searchable, and the doctor sees the patient's name.
    detail.side.setCurrentWidget(detail.tags)
    detail.tags.search.setText("patientname")
    assert detail.tags.visible_keywords() == ["PatientName"]

    # Opened again, the marks come back from the server.
    detail.show_xray(None)
    detail.show_xray(xray)
    qtbot.waitUntil(lambda: detail.data is not None)
    assert panel.viewer.mark_labels() == ["24.0 mm", "30.0 mm"]
    assert not detail.save_marks_button.isEnabled()

    assert server.call(patient.email, lambda api: api.annotations(xray.id)).annotations == []
    detail.result.result_edit.setPlainText("Normal alignment.")
    sign(qtbot, detail.result)
    assert len(server.call(patient.email, lambda api: api.annotations(xray.id)).annotations) == 2
    # What the patient was shown does not change: no drawing on a signed film.
    assert not detail.save_marks_button.isVisible()
    assert not panel.actions_by_key["line"].isVisible()


def test_compare_two_films_with_linked_views(
    qtbot: QtBot, desktop: DesktopApp, server: Server, tmp_path: Path
) -> None:
    doctor = server.new_user("doctor")
    patient = server.new_user("patient", "Compared Person")
    for name, seed in (("Chest 2025", 1), ("Chest 2026", 2)):
        image = tmp_path / f"{name}.dcm"
        write_dicom(image, radiograph_pixels(400, 500, seed=seed))
        server.call(patient.email, lambda api, image=image, n=name: upload(api, image, n, "chest"))
    # The newest film is of another body part, and 16-bit on a wider range: not the one to
    # compare a chest with.
    hand = tmp_path / "hand.png"
    write_png(hand, radiograph_pixels(300, 200, seed=3) * 16)
    server.call(patient.email, lambda api: upload(api, hand, "Hand 2026", "limb"))
    window = log_in(qtbot, desktop, doctor.email)
    tab = window.tab("Patients")
    assert isinstance(tab, PatientsTab)
    open_chart(qtbot, desktop, tab, "Compared Person")
    detail = tab.chart.detail
    gallery = tab.chart.gallery
    qtbot.waitUntil(lambda: gallery.model.rowCount() == 3)
    names = [gallery.model.item(row).name_of_xray for row in range(3)]
    gallery.view.setCurrentIndex(gallery.model.index(names.index("Chest 2026"), 0))
    qtbot.waitUntil(lambda: detail.data is not None)
    detail.compare_button.click()
    qtbot.waitUntil(lambda: detail.compare_window is not None)
    compare = detail.compare_window
    assert compare is not None
    qtbot.addWidget(compare)
    left, right = compare.left.panel.viewer, compare.right.panel.viewer
    qtbot.waitUntil(lambda: left.has_image and right.has_image)
    assert compare.left.choice.currentText().startswith("Chest 2026")
    # The most recent earlier film of the same body part, not the newest one.
    assert compare.right.choice.currentText().startswith("Chest 2025")
    # Each side opens fitted and in its own window.
    assert left.fit_mode
    assert right.fit_mode
    for viewer in (left, right):
        assert viewer.current_window == robust_window(
            viewer._stored,
            viewer._offset,
            viewer._scale,
        )

    left.zoom_by(2.0)
    assert right.zoom / right.fitted_zoom() == pytest.approx(left.zoom / left.fitted_zoom())
    left.set_window(Window(1000, 300))
    assert relative(right) == pytest.approx(relative(left))
    before = right.current_window
    compare.link.setChecked(False)
    left.zoom_by(1.5)
    assert right.zoom / right.fitted_zoom() != pytest.approx(left.zoom / left.fitted_zoom())
    left.set_window(Window(2000, 800))
    assert right.current_window == before

    # Against a film on another range, the link keeps the relative window.
    compare.link.setChecked(True)
    compare.right.choose(next(x.id for x in compare.right.xrays if x.name_of_xray == "Hand 2026"))
    qtbot.waitUntil(lambda: right.image_size == (300, 200))
    left.set_window(Window(1500, 600))
    assert relative(right) == pytest.approx(relative(left))


def relative(viewer: XRayViewer) -> tuple[float, float]:
    """A viewer's window as fractions of its image's range: (level, width)."""
    assert viewer.current_window is not None
    whole = viewer.modality_range()
    low = whole.center - whole.width / 2
    window = viewer.current_window
    return (window.center - low) / whole.width, window.width / whole.width


def test_f1_shows_the_viewers_help_wherever_the_focus_is(
    qtbot: QtBot, desktop: DesktopApp, server: Server, tmp_path: Path
) -> None:
    doctor = server.new_user("doctor")
    patient = server.new_user("patient", "Helped Person")
    image = tmp_path / "film.png"
    write_png(image, radiograph_pixels(120, 100))
    server.call(patient.email, lambda api: upload(api, image, "Film", "other"))
    window = log_in(qtbot, desktop, doctor.email)
    tab = window.tab("Patients")
    assert isinstance(tab, PatientsTab)
    open_chart(qtbot, desktop, tab, "Helped Person")
    gallery = tab.chart.gallery
    qtbot.waitUntil(lambda: gallery.model.rowCount() == 1)
    # The film is opened from the list, and the focus stays in the list.
    window.activateWindow()
    gallery.view.setFocus()
    qtbot.keyClick(gallery.view, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: tab.chart.detail.panel.viewer.has_image)
    assert gallery.view.hasFocus()
    qtbot.keyClick(gallery.view, Qt.Key.Key_F1)
    assert tab.chart.detail.panel.help_overlay.isVisible()
