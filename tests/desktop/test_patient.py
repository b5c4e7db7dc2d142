"""A patient's day: asking, uploading by drag-and-drop, viewing, reading history and the log."""

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.app import DesktopApp
from desktop.http import ApiError
from desktop.tabs.patient import HistoryTab, PrivacyTab, QuestionsTab, XRaysTab
from server.demo_images import radiograph_pixels, write_dicom, write_png
from tests.desktop.conftest import Server, column_texts, log_in, settle
from tests.desktop.meanwhile import add_history, answer, upload, write_result


def drop_files(qtbot: QtBot, target: XRaysTab, paths: list[Path]) -> None:
    """What the file manager does when files are dragged onto the tab and released."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    point = QPoint(target.width() // 2, target.height() // 2)
    actions = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(
        QPointF(point), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        QPointF(point), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(target, drop)
    assert drop.isAccepted()


def test_ask_a_doctor_and_read_the_answer(
    qtbot: QtBot, desktop: DesktopApp, server: Server
) -> None:
    patient = server.new_user("patient")
    doctor = server.new_user("doctor", "Dr. Desk Answer")
    window = log_in(qtbot, desktop, patient.email)
    tab = window.tab("Questions")
    assert isinstance(tab, QuestionsTab)
    qtbot.mouseClick(tab.new_button, Qt.MouseButton.LeftButton)
    form = tab.ask_form
    assert tab.right.currentWidget() is form
    qtbot.keyClicks(form.text_edit, "My knee is swollen since Monday.")
    # The doctors to choose from are read when the form opens.
    qtbot.waitUntil(lambda: form.doctor_combo.findText("Dr. Desk Answer") >= 0)
    form.doctor_combo.setCurrentIndex(form.doctor_combo.findText("Dr. Desk Answer"))
    qtbot.mouseClick(form.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.model.rowCount() == 1)
    assert form.status.text() == "Your question was sent."
    assert column_texts(tab.model, 2) == ["Dr. Desk Answer"]
    assert column_texts(tab.model, 3) == ["pending"]

    held = server.call(patient.email, lambda api: api.questions())
    assert [(q.question_text, q.doctor_id) for q in held.items] == [
        ("My knee is swollen since Monday.", doctor.id)
    ]
    question_id = held.items[0].id
    server.call(
        doctor.email,
        lambda api: answer(api, question_id, "Cool it and rest; come in if it gets worse."),
    )

    tab.status_combo.setCurrentIndex(tab.status_combo.findText("Answered"))
    qtbot.waitUntil(lambda: column_texts(tab.model, 3) == ["answered"])
    tab.list.select_row(0)
    assert "Cool it and rest" in tab.thread_view.toPlainText()
    assert "Dr. Desk Answer" in tab.thread_view.toPlainText()


def test_an_empty_question_shows_the_servers_reason(
    qtbot: QtBot, desktop: DesktopApp, server: Server
) -> None:
    patient = server.new_user("patient")
    window = log_in(qtbot, desktop, patient.email)
    tab = window.tab("Questions")
    assert isinstance(tab, QuestionsTab)
    tab.new_button.click()
    tab.ask_form.send_button.click()
    qtbot.waitUntil(tab.ask_form.text_error.isVisible)
    # In words a person uses, not the validator's ("String should have at least 1 character").
    assert tab.ask_form.text_error.text() == "This is required."
    assert server.call(patient.email, lambda api: api.questions()).items == []


def test_drop_files_to_upload_them_each_with_its_form(
    qtbot: QtBot, desktop: DesktopApp, server: Server, tmp_path: Path
) -> None:
    patient = server.new_user("patient")
    chest = tmp_path / "chest_pa.png"
    write_png(chest, radiograph_pixels(300, 360))
    dicom = tmp_path / "spine.dcm"
    write_dicom(dicom, radiograph_pixels(200, 260, seed=4))
    fake = tmp_path / "holiday.png"
    fake.write_text("this is a text file with a picture's name")

    window = log_in(qtbot, desktop, patient.email)
    tab = window.tab("X-rays")
    assert isinstance(tab, XRaysTab)
    drop_files(qtbot, tab, [chest, dicom, fake])
    items = tab.uploads.items
    assert [item.path.name for item in items] == ["chest_pa.png", "spine.dcm", "holiday.png"]
    assert [item.type_combo.currentData() for item in items] == ["chest", "spine", "other"]
    items[0].name_edit.clear()
    qtbot.keyClicks(items[0].name_edit, "Chest, standing")
    qtbot.keyClicks(items[1].description_edit, "Lower back, after lifting")
    assert tab.uploads.upload_all_button.isVisible()
    qtbot.mouseClick(tab.uploads.upload_all_button, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(
        lambda: items[0].is_done and items[1].is_done and not items[2].is_busy, timeout=15000
    )
    assert items[0].status.text() == "Uploaded as “Chest, standing”."
    assert items[2].status.text() == "Refused by the server:"
    assert "PNG, JPEG and DICOM" in items[2].error.text()
    settle(qtbot, desktop)
    assert tab.gallery.model.rowCount() == 2

    held = server.call(patient.email, lambda api: api.xrays(patient.id))
    assert sorted((x.name_of_xray, x.content_type) for x in held.items) == [
        ("Chest, standing", "image/png"),
        ("spine", "application/dicom"),
    ]
    assert {x.description_of_xray for x in held.items} == {None, "Lower back, after lifting"}
    assert server.storage_leftovers() == []


def test_cancel_a_long_upload(
    qtbot: QtBot, desktop: DesktopApp, server: Server, tmp_path: Path
) -> None:
    patient = server.new_user("patient")
    big = tmp_path / "big.png"
    with big.open("wb") as handle:  # 95 MB (under the server's limit), sparse on disk
        handle.write(b"\x89PNG\r\n\x1a\n")
        handle.truncate(95 * 1024 * 1024)
    window = log_in(qtbot, desktop, patient.email)
    tab = window.tab("X-rays")
    assert isinstance(tab, XRaysTab)
    tab.uploads.add_files([big])
    item = tab.uploads.items[0]
    item.upload_button.click()
    # Click Cancel as soon as the first bytes are on their way, before the upload can finish.
    qtbot.waitUntil(lambda: 0 < item.progress.value() < item.progress.maximum(), timeout=15000)
    assert item.cancel_button.isVisible()
    qtbot.mouseClick(item.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: item.status.text() == "Upload cancelled.")
    assert item.upload_button.isEnabled()
    qtbot.waitUntil(lambda: server.storage_leftovers() == [], timeout=10000)
    assert server.call(patient.email, lambda api: api.xrays(patient.id)).items == []


def test_view_an_xray_with_its_result_and_from_the_cache(
    qtbot: QtBot, desktop: DesktopApp, server: Server, tmp_path: Path
) -> None:
    patient = server.new_user("patient")
    doctor = server.new_user("doctor")
    image = tmp_path / "hand.png"
    write_png(image, radiograph_pixels(400, 300))
    xray = server.call(
        patient.email,
        lambda api: upload(api, image, "Hand", "limb"),
    )
    server.call(
        doctor.email,
        lambda api: write_result(api, xray.id, "No fracture seen.", final=True),
    )

    window = log_in(qtbot, desktop, patient.email)
    tab = window.tab("X-rays")
    assert isinstance(tab, XRaysTab)
    settle(qtbot, desktop)
    assert tab.gallery.model.has_thumbnail(xray.id)
    tab.gallery.view.setCurrentIndex(tab.gallery.model.index(0, 0))
    qtbot.keyClick(tab.gallery.view, Qt.Key.Key_Return)
    detail = tab.detail
    qtbot.waitUntil(lambda: detail.panel.viewer.has_image)
    assert detail.title.text() == "Hand"
    # A picture to look at: no window numbers, no MIME types, no reading overlays.
    assert not detail.panel.center_spin.isVisible()
    assert "image/" not in detail.facts.text()
    assert "PNG" in detail.facts.text()
    assert not detail.panel.overlays.labels["bottom_left"].isVisible()
    assert detail.result.result_edit.toPlainText() == "No fracture seen."
    assert detail.result.result_edit.isReadOnly()
    assert not detail.result.save_button.isVisible()
    assert not detail.result.addendum_button.isVisible()
    assert f"signed by {doctor.full_name} on " in detail.result.state.text()
    assert detail.status.text() == ""  # downloaded this time

    viewer = detail.panel.viewer
    fitted = viewer.zoom
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    viewer.setFocus()
    qtbot.keyClick(viewer, Qt.Key.Key_1)  # the toolbar's shortcut for 1:1
    assert viewer.zoom == 1.0
    assert detail.panel.zoom_label.text().strip() == "100%"
    qtbot.keyClick(viewer, Qt.Key.Key_F)
    assert viewer.zoom == fitted

    tab.back_button.click()
    tab.open_xray(xray)
    qtbot.waitUntil(lambda: detail.panel.viewer.has_image)
    assert detail.status.text() == "Shown from the local cache."
    assert (tmp_path / "cache" / str(patient.id) / f"{xray.sha256}.png").exists()


def test_history_and_who_looked_at_my_records(
    qtbot: QtBot, desktop: DesktopApp, server: Server, tmp_path: Path
) -> None:
    patient = server.new_user("patient")
    doctor = server.new_user("doctor", "Dr. Looked")
    for name in ("Appendectomy", "Physiotherapy"):
        server.call(doctor.email, lambda api, name=name: add_history(api, patient.id, name, "2020"))
    window = log_in(qtbot, desktop, patient.email)
    history = window.tab("Medical history")
    assert isinstance(history, HistoryTab)
    qtbot.waitUntil(lambda: history.model.rowCount() == 2)
    assert column_texts(history.model, 1) == ["Physiotherapy", "Appendectomy"]
    assert not history.add_button.isVisible()
    history.list.filter_edit.setText("append")
    assert history.list.proxy.rowCount() == 1

    # Someone else looks at the film many times, and is refused another patient's record.
    image = tmp_path / "look.png"
    write_png(image, radiograph_pixels(60, 50))
    film = server.call(patient.email, lambda api: upload(api, image, "Shoulder", "limb"))
    for _ in range(3):
        server.call(doctor.email, lambda api: api.xray(film.id))
    server.call(doctor.email, lambda api: api.thumbnail(film))
    nosy = server.new_user("patient", "Nosy Neighbour")
    with pytest.raises(ApiError):
        server.call(nosy.email, lambda api: api.xray(film.id))

    privacy = window.tab("Privacy")
    assert isinstance(privacy, PrivacyTab)
    privacy.model.reload()
    settle(qtbot, desktop)
    lines = set(
        zip(
            column_texts(privacy.model, 1),
            column_texts(privacy.model, 3),
            column_texts(privacy.model, 2),
            strict=True,
        )
    )
    # Who (name and role), what (the record by its name), how many times: one line a day.
    assert ("Dr. Looked (doctor)", "looked at your x-ray “Shoulder”", "4") in lines
    assert ("Dr. Looked (doctor)", "added your medical history entry “Physiotherapy”", "1") in lines
    assert (
        "Nosy Neighbour (patient)",
        "tried to open your x-ray “Shoulder” and was refused",
        "1",
    ) in lines
    assert not any("user #" in who or "xray" in thing for who, thing, _ in lines)


def test_preview_a_file_before_uploading_it(
    qtbot: QtBot, desktop: DesktopApp, server: Server, tmp_path: Path
) -> None:
    patient = server.new_user("patient")
    film = tmp_path / "knee.dcm"
    write_dicom(film, radiograph_pixels(300, 240), pixel_spacing_mm=(0.3, 0.3))
    window = log_in(qtbot, desktop, patient.email)
    tab = window.tab("X-rays")
    assert isinstance(tab, XRaysTab)
    drop_files(qtbot, tab, [film])
    item = tab.uploads.items[0]
    qtbot.mouseClick(item.preview_button, Qt.MouseButton.LeftButton)
    preview = item.preview
    assert preview is not None
    qtbot.addWidget(preview)
    qtbot.waitUntil(lambda: preview.panel.viewer.has_image)
    assert preview.panel.viewer.image_size == (300, 240)
    assert preview.panel.viewer.spacing == (0.3, 0.3)
    assert server.call(patient.email, lambda api: api.xrays(patient.id)).items == []


def test_preview_names_a_file_that_is_no_image(
    qtbot: QtBot, desktop: DesktopApp, server: Server, tmp_path: Path
) -> None:
    from desktop.local_preview import PreviewWindow

    notes = tmp_path / "notes.png"
    notes.write_text("not an image")
    preview = PreviewWindow(desktop.runner, notes)
    qtbot.addWidget(preview)
    preview.show()
    qtbot.waitUntil(preview.panel.message.isVisible)
    assert "notes.png is not a PNG, JPEG or DICOM image." in preview.panel.message.text()


def test_finding_films_by_name_date_and_state(
    qtbot: QtBot, desktop: DesktopApp, server: Server, tmp_path: Path
) -> None:
    patient = server.new_user("patient")
    doctor = server.new_user("doctor")
    image = tmp_path / "ankle.png"
    write_png(image, radiograph_pixels(120, 100))
    ankle = server.call(patient.email, lambda api: upload(api, image, "Ankle", "limb"))
    server.call(doctor.email, lambda api: write_result(api, ankle.id, "Sprain.", final=True))
    window = log_in(qtbot, desktop, patient.email)

    # The tiles say whether a result is ready.
    films = window.tab("X-rays")
    assert isinstance(films, XRaysTab)
    settle(qtbot, desktop)
    tile = films.gallery.model.index(0, 0).data()
    assert tile.startswith("Ankle\n")
    assert tile.endswith("result ready")

    # A film uploaded after logging in is offered when asking (the form reads it when shown).
    later = tmp_path / "knee.png"
    write_png(later, radiograph_pixels(100, 120))
    knee = server.call(patient.email, lambda api: upload(api, later, "Knee", "limb"))
    questions = window.tab("Questions")
    assert isinstance(questions, QuestionsTab)
    questions.new_button.click()
    form = questions.ask_form
    qtbot.waitUntil(lambda: form.xray_combo.count() == 3)
    choices = [form.xray_combo.itemText(i) for i in range(form.xray_combo.count())]
    assert choices[0] == "No x-ray"
    assert sorted(choice.split(" · ")[0] for choice in choices[1:]) == ["Ankle", "Knee"]
    assert all("#" not in choice for choice in choices)  # names and dates, not ids

    # Asked about the knee, the thread links to it, and the link opens it.
    form.xray_combo.setCurrentIndex(form.xray_combo.findData(knee.id))
    qtbot.keyClicks(form.text_edit, "Is my knee fine?")
    form.send_button.click()
    qtbot.waitUntil(lambda: questions.model.rowCount() == 1)
    questions.list.select_row(0)
    assert "Open the x-ray this question is about" in questions.thread_view.toPlainText()
    # Followed by keyboard: Tab to the link, Enter.
    thread = questions.thread_view
    window.activateWindow()
    thread.setFocus()
    qtbot.keyClick(thread, Qt.Key.Key_Tab)
    qtbot.keyClick(thread, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: films.detail.xray is not None and films.detail.xray.id == knee.id)
    assert window.tabs.currentWidget() is films
