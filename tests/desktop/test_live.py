"""The practice's workflow as people see it: what others do shows up in an open window without
a refresh (the live connection), tabs count what waits, notifications, the worklist, claiming."""

from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.app import DesktopApp
from desktop.main_window import MainWindow
from desktop.tabs.doctor import PendingTab
from desktop.tabs.patient import QuestionsTab, XRaysTab
from desktop.tabs.worklist import WorklistTab
from server.demo_images import radiograph_pixels, write_png
from tests.desktop.conftest import Server, column_texts, log_in, settle, sign
from tests.desktop.meanwhile import answer, ask, upload, write_result


def live(qtbot: QtBot, window: MainWindow) -> None:
    """Wait for the window's live connection (the status bar says so)."""
    qtbot.waitUntil(lambda: window.connection.text().endswith(" · live"), timeout=15000)


def tab_count(window: MainWindow, title: str) -> int:
    """The number a tab's name shows: "Films to read (3)" → 3; none → 0."""
    text = window.tabs.tabText(window.tab_titles.index(title))
    return int(text.rsplit("(", 1)[1].rstrip(")")) if text.endswith(")") else 0


def film(tmp_path: Path, name: str = "film.png") -> Path:
    path = tmp_path / name
    write_png(path, radiograph_pixels(120, 100))
    return path


def test_a_question_appears_in_the_doctors_open_queue_and_the_count_goes_up(
    qtbot: QtBot, desktop: DesktopApp, server: Server
) -> None:
    doctor = server.new_user("doctor")
    patient = server.new_user("patient")
    window = log_in(qtbot, desktop, doctor.email)
    queue = window.tab("Pending questions")
    assert isinstance(queue, PendingTab)
    live(qtbot, window)
    settle(qtbot, desktop)
    before, rows = tab_count(window, "Pending questions"), queue.model.rowCount()
    # The doctor selected a question and is typing an answer when the new one arrives.
    first = server.call(patient.email, lambda api: ask(api, "Is my knee fine?", doctor.id))
    qtbot.waitUntil(lambda: queue.model.rowCount() == rows + 1)
    row = next(r for r, q in enumerate(queue.model.items) if q.id == first.id)
    queue.list.select_row(queue.list.proxy.mapFromSource(queue.model.index(row, 0)).row())
    qtbot.keyClicks(queue.answer.text_edit, "It looks")

    second = server.call(patient.email, lambda api: ask(api, "And my ankle?", doctor.id))
    qtbot.waitUntil(lambda: second.id in [q.id for q in queue.model.items])
    qtbot.waitUntil(lambda: tab_count(window, "Pending questions") == before + 2)
    assert queue.list.current_item().id == first.id  # the selection stayed
    assert queue.answer.text_edit.toPlainText() == "It looks"  # and the typing
    assert "Is my knee fine?" in queue.thread_view.toPlainText()


def test_a_signed_result_appears_in_the_patients_open_window(
    qtbot: QtBot, desktop: DesktopApp, server: Server, tmp_path: Path
) -> None:
    patient = server.new_user("patient")
    doctor = server.new_user("doctor")
    xray = server.call(patient.email, lambda api: upload(api, film(tmp_path), "Wrist", "limb"))
    window = log_in(qtbot, desktop, patient.email)
    films = window.tab("X-rays")
    assert isinstance(films, XRaysTab)
    live(qtbot, window)
    settle(qtbot, desktop)
    assert "awaiting result" in films.gallery.model.index(0, 0).data()
    films.open_xray(films.gallery.model.item(0))
    qtbot.waitUntil(lambda: films.detail.panel.viewer.has_image)
    result = films.detail.result
    assert result.result_edit.toPlainText() == ""
    assert result.state.text() == "<b>No result yet</b>"

    # A preliminary is the doctor's: nothing reaches the patient.
    server.call(doctor.email, lambda api: write_result(api, xray.id, "Draft.", final=False))
    server.call(doctor.email, lambda api: write_result(api, xray.id, "No fracture.", final=True))
    qtbot.waitUntil(lambda: result.result_edit.toPlainText() == "No fracture.")
    assert f"signed by {doctor.full_name} on " in result.state.text()
    qtbot.waitUntil(lambda: "result ready" in films.gallery.model.index(0, 0).data())
    # Seen in the open window: nothing is counted as unread.
    assert tab_count(window, "X-rays") == 0


def test_a_patient_away_from_the_window_is_told_of_an_answer_and_the_click_opens_it(
    qtbot: QtBot, desktop: DesktopApp, server: Server
) -> None:
    patient = server.new_user("patient")
    doctor = server.new_user("doctor")
    question = server.call(patient.email, lambda api: ask(api, "Can I run?", doctor.id))
    window = log_in(qtbot, desktop, patient.email)
    live(qtbot, window)
    window.tab("Privacy")  # not looking at the questions
    window.attention.window_active = lambda: False  # another program is in front
    with qtbot.waitSignal(window.attention.notified, timeout=15000) as told:
        server.call(doctor.email, lambda api: answer(api, question.id, "Yes, gently."))
    assert told.args == ["New answer", "A doctor answered your question."]
    qtbot.waitUntil(lambda: tab_count(window, "Questions") == 1)

    # Said in the window too (a desktop may have no tray), with a way to open it.
    assert window.notice.isVisible()
    assert "A doctor answered your question." in window.notice.text.text()
    window.attention.tray.messageClicked.emit()  # the user clicks the system's notification
    questions = window.tabs.currentWidget()
    assert isinstance(questions, QuestionsTab)
    qtbot.waitUntil(lambda: "Yes, gently." in questions.thread_view.toPlainText())
    qtbot.waitUntil(lambda: tab_count(window, "Questions") == 0)


def test_notifications_can_be_turned_off(qtbot: QtBot, desktop: DesktopApp, server: Server) -> None:
    patient = server.new_user("patient")
    doctor = server.new_user("doctor")
    question = server.call(patient.email, lambda api: ask(api, "Can I swim?", doctor.id))
    desktop.config.notifications = False
    window = log_in(qtbot, desktop, patient.email)
    live(qtbot, window)
    window.attention.window_active = lambda: False
    told: list[str] = []
    window.attention.notified.connect(lambda title, _text: told.append(title))
    server.call(doctor.email, lambda api: answer(api, question.id, "Not yet."))
    # The count says the answer arrived; no notification was shown for it.
    qtbot.waitUntil(lambda: tab_count(window, "Questions") == 1)
    assert told == []
    assert not window.notice.isVisible()


def test_films_to_read_oldest_first_opened_signed_and_gone(
    qtbot: QtBot, desktop: DesktopApp, server: Server, tmp_path: Path
) -> None:
    patient = server.new_user("patient", "Worklist Person")
    doctor = server.new_user("doctor")
    window = log_in(qtbot, desktop, doctor.email)
    worklist = window.tab("Films to read")
    assert isinstance(worklist, WorklistTab)
    live(qtbot, window)
    settle(qtbot, desktop)
    films = tab_count(window, "Films to read")
    first = server.call(patient.email, lambda api: upload(api, film(tmp_path), "Elbow", "limb"))
    second = server.call(patient.email, lambda api: upload(api, film(tmp_path), "Hip", "limb"))
    qtbot.waitUntil(lambda: second.id in [x.id for x in worklist.model.items])
    qtbot.waitUntil(lambda: tab_count(window, "Films to read") == films + 2)
    ids = [x.id for x in worklist.model.items]
    assert ids.index(first.id) < ids.index(second.id)  # oldest first
    assert "Worklist Person" in column_texts(worklist.model, 1)

    worklist.open_xray_id(first.id)
    detail = worklist.detail
    qtbot.waitUntil(lambda: detail.panel.viewer.has_image)
    assert detail.title.text() == "Elbow"
    detail.result.result_edit.setPlainText("Normal elbow.")
    qtbot.mouseClick(detail.result.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: detail.result.status.text().startswith("Draft saved"))
    worklist.status_combo.setCurrentIndex(2)  # preliminary only
    qtbot.waitUntil(lambda: first.id in [x.id for x in worklist.model.items])
    assert second.id not in [x.id for x in worklist.model.items]
    assert {x.result_status for x in worklist.model.items} == {"preliminary"}
    sign(qtbot, detail.result)
    qtbot.waitUntil(lambda: first.id not in [x.id for x in worklist.model.items])
    qtbot.waitUntil(lambda: tab_count(window, "Films to read") == films + 1)
    assert detail.title.text() == "Elbow"  # what was signed stays in front


def test_take_an_unassigned_question(qtbot: QtBot, desktop: DesktopApp, server: Server) -> None:
    patient = server.new_user("patient")
    doctor = server.new_user("doctor")
    question = server.call(patient.email, lambda api: ask(api, "Anyone there?"))
    window = log_in(qtbot, desktop, doctor.email)
    queue = window.tab("Pending questions")
    assert isinstance(queue, PendingTab)
    settle(qtbot, desktop)
    queue.open_question_id(question.id)
    qtbot.waitUntil(lambda: queue.take_button.isVisible())
    qtbot.mouseClick(queue.take_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: queue.answer.status.text() == "The question is yours now.")
    assert not queue.take_button.isVisible()
    held = server.call(patient.email, lambda api: api.question(question.id))
    assert held.doctor_id == doctor.id
