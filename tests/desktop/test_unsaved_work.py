"""A user's typed work is never lost silently: drafts survive moving between films and
questions, and leaving with unsaved work asks Save all / Discard / Cancel."""

from pathlib import Path

from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from desktop.app import DesktopApp
from desktop.main_window import MainWindow
from desktop.tabs.doctor import PatientsTab
from server.demo_images import radiograph_pixels, write_dicom
from shared.models import User
from tests.desktop.conftest import Server, log_in, open_chart, settle
from tests.desktop.meanwhile import upload


def two_films(server: Server, tmp_path: Path, patient: User) -> None:
    for name, seed in (("Knee", 3), ("Wrist", 4)):
        image = tmp_path / f"{name}.dcm"
        write_dicom(image, radiograph_pixels(120, 100, seed=seed))
        server.call(
            patient.email, lambda api, image=image, name=name: upload(api, image, name, "limb")
        )


def open_film(qtbot: QtBot, tab: PatientsTab, name: str) -> None:
    gallery = tab.chart.gallery
    row = next(
        r for r in range(gallery.model.rowCount()) if gallery.model.item(r).name_of_xray == name
    )
    gallery.view.setCurrentIndex(gallery.model.index(row, 0))
    qtbot.waitUntil(
        lambda: tab.chart.detail.xray is not None and tab.chart.detail.xray.name_of_xray == name
    )
    qtbot.waitUntil(lambda: tab.chart.detail.panel.viewer.has_image)


def doctor_with_a_chart(
    qtbot: QtBot, desktop: DesktopApp, server: Server, tmp_path: Path
) -> tuple[MainWindow, PatientsTab, User, User]:
    doctor = server.new_user("doctor")
    name = f"Draft {tmp_path.name.replace('_', ' ')}"  # one patient per test on the shared server
    patient = server.new_user("patient", name)
    two_films(server, tmp_path, patient)
    window = log_in(qtbot, desktop, doctor.email)
    tab = window.tab("Patients")
    assert isinstance(tab, PatientsTab)
    open_chart(qtbot, desktop, tab, name)
    settle(qtbot, desktop)
    return window, tab, doctor, patient


def test_a_result_being_written_survives_looking_at_another_film(
    qtbot: QtBot, desktop: DesktopApp, server: Server, tmp_path: Path
) -> None:
    _window, tab, _doctor, patient = doctor_with_a_chart(qtbot, desktop, server, tmp_path)
    detail = tab.chart.detail
    open_film(qtbot, tab, "Knee")
    qtbot.keyClicks(detail.result.result_edit, "Joint space preserved.")
    open_film(qtbot, tab, "Wrist")
    assert detail.result.result_edit.toPlainText() == ""
    open_film(qtbot, tab, "Knee")
    assert detail.result.result_edit.toPlainText() == "Joint space preserved."
    assert "unsaved draft" in detail.result.status.text()
    # Kept, not saved: the server has no result yet.
    films = server.call(patient.email, lambda api: api.xrays(patient.id)).items
    assert [film.result_of_xray for film in films] == [None, None]


def test_marks_being_drawn_survive_looking_at_another_film(
    qtbot: QtBot, desktop: DesktopApp, server: Server, tmp_path: Path
) -> None:
    _window, tab, _doctor, _patient = doctor_with_a_chart(qtbot, desktop, server, tmp_path)
    detail = tab.chart.detail
    open_film(qtbot, tab, "Knee")
    viewer = detail.panel.viewer
    detail.panel.actions_by_key["line"].trigger()
    for point in ((20, 20), (80, 60)):
        viewer._place_point(viewer.mapToScene(*point))
    assert len(viewer.annotations()) == 1
    open_film(qtbot, tab, "Wrist")
    assert viewer.annotations() == []
    open_film(qtbot, tab, "Knee")
    assert len(viewer.annotations()) == 1
    assert detail.save_marks_button.isEnabled()


def answer_box(qtbot: QtBot, window: MainWindow, button: str) -> None:
    def box() -> QMessageBox | None:
        found = [b for b in window.findChildren(QMessageBox, "unsaved-work") if b.isVisible()]
        return found[0] if found else None

    qtbot.waitUntil(lambda: box() is not None)
    found = box()
    assert found is not None
    assert "the result of “Knee”" in found.informativeText()
    next(b for b in found.buttons() if b.text() == button).click()


def test_logging_out_with_unsaved_work_asks_and_cancel_keeps_it(
    qtbot: QtBot, desktop: DesktopApp, server: Server, tmp_path: Path
) -> None:
    window, tab, _doctor, _patient = doctor_with_a_chart(qtbot, desktop, server, tmp_path)
    open_film(qtbot, tab, "Knee")
    qtbot.keyClicks(tab.chart.detail.result.result_edit, "Effusion.")
    window.logout_action.trigger()
    answer_box(qtbot, window, "Cancel")
    assert desktop.main_window is window
    assert tab.chart.detail.result.result_edit.toPlainText() == "Effusion."


def test_save_all_saves_the_drafts_then_logs_out(
    qtbot: QtBot, desktop: DesktopApp, server: Server, tmp_path: Path
) -> None:
    window, tab, doctor, patient = doctor_with_a_chart(qtbot, desktop, server, tmp_path)
    open_film(qtbot, tab, "Knee")
    qtbot.keyClicks(tab.chart.detail.result.result_edit, "Effusion.")
    window.logout_action.trigger()
    answer_box(qtbot, window, "Save all")
    qtbot.waitUntil(desktop.login_window.isVisible)
    films = server.call(doctor.email, lambda api: api.xrays(patient.id)).items
    assert {film.name_of_xray: film.result_of_xray for film in films} == {
        "Knee": "Effusion.",
        "Wrist": None,
    }


def test_discard_logs_out_without_saving(
    qtbot: QtBot, desktop: DesktopApp, server: Server, tmp_path: Path
) -> None:
    window, tab, doctor, patient = doctor_with_a_chart(qtbot, desktop, server, tmp_path)
    open_film(qtbot, tab, "Knee")
    qtbot.keyClicks(tab.chart.detail.result.result_edit, "Effusion.")
    window.close()  # Quit, or the window's close button
    answer_box(qtbot, window, "Discard")
    qtbot.waitUntil(lambda: desktop.main_window is None)
    films = server.call(doctor.email, lambda api: api.xrays(patient.id)).items
    assert [film.result_of_xray for film in films] == [None, None]


def test_an_answer_being_written_survives_opening_another_question(
    qtbot: QtBot, desktop: DesktopApp, server: Server
) -> None:
    from tests.desktop.meanwhile import ask

    doctor = server.new_user("doctor")
    patient = server.new_user("patient", "Asking Person")
    for text in ("First question?", "Second question?"):
        server.call(patient.email, lambda api, text=text: ask(api, text, doctor.id))
    window = log_in(qtbot, desktop, doctor.email)
    tab = window.tab("Pending questions")
    settle(qtbot, desktop)
    tab.list.select_row(0)
    qtbot.keyClicks(tab.answer.text_edit, "Rest and fluids.")
    tab.list.select_row(1)
    assert tab.answer.text_edit.toPlainText() == ""
    tab.list.select_row(0)
    assert tab.answer.text_edit.toPlainText() == "Rest and fluids."
    assert tab.answer.status.text() == "Your unsaved answer is back."
