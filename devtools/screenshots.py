"""`python -m devtools.screenshots DIR`: every screen of every role, rendered off screen.

A demo server is started on a throw-away database; the client logs in as each demo account,
opens each tab (and the viewer with an image), waits for its data, and writes one PNG each.
"""

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, QSettings
from PySide6.QtWidgets import QApplication, QWidget

from desktop.app import DesktopApp
from desktop.attention import Target
from desktop.config import Config
from desktop.main_window import MainWindow
from devtools.live_server import LiveServer, run_cli, server_environment
from server.seed import DEMO_PASSWORD

WINDOW_SIZE = (1280, 800)


def wait_for(condition: Callable[[], bool], seconds: float = 30) -> None:
    """Let Qt work until `condition` holds (a tool, not a test: a deadline guards it)."""
    app = QApplication.instance()
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the screen did not finish loading")
        assert app is not None
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.01)


class Shooter:
    def __init__(
        self, desktop: DesktopApp, folder: Path, size: tuple[int, int] = WINDOW_SIZE
    ) -> None:
        self.desktop = desktop
        self.folder = folder
        self.size = size
        self.written: list[Path] = []

    def settle(self) -> None:
        # Work may start more work (a page, then its thumbnails): wait until nothing runs.
        for _ in range(3):
            wait_for(lambda: self.desktop.runner.is_idle)
            QApplication.processEvents()

    def shoot(self, widget: QWidget, name: str) -> None:
        self.settle()
        path = self.folder / f"{name}.png"
        widget.grab().save(str(path))
        self.written.append(path)
        print(f"wrote {path}")

    def log_in(self, email: str) -> MainWindow:
        login = self.desktop.login_window
        login.email_edit.setText(email)
        login.password_edit.setText(DEMO_PASSWORD)
        login.login_button.click()
        wait_for(lambda: self.desktop.main_window is not None)
        window = self.desktop.main_window
        assert window is not None
        window.resize(*self.size)
        return window


def _role_screens(shooter: Shooter, email: str, role: str) -> None:
    from desktop.tabs import admin, doctor, patient

    window = shooter.log_in(email)
    for index, title in enumerate(window.tab_titles):
        if title == "Privacy":
            continue  # shot last, once the doctor and the admin have looked at her records
        window.tabs.setCurrentIndex(index)
        shooter.shoot(window, f"{role}-{title.lower().replace(' ', '-')}")
    tab = window.tabs
    if role == "patient":
        xrays = window.tab("X-rays")
        assert isinstance(xrays, patient.XRaysTab)
        shooter.settle()
        films = xrays.gallery.model.items
        xrays.open_xray(next(x for x in films if x.content_type == "application/dicom"))
        shooter.shoot(window, "patient-xray-viewer")
        questions = window.tab("Questions")
        assert isinstance(questions, patient.QuestionsTab)
        questions.list.select_row(0)
        shooter.shoot(window, "patient-question-thread")
        questions.new_button.click()
        shooter.shoot(window, "patient-ask-question")
        # What arrives while the window is away: the tray's message, and the notice in the window.
        window.attention.window_active = lambda: False
        answered = questions.model.item(0)
        window.attention.notify(
            "New answer", "A doctor answered your question.", Target("Questions", answered.id)
        )
        shooter.shoot(window, "patient-notification")
        window.notice.hide()
    elif role == "doctor":
        pending = window.tab("Pending questions")
        assert isinstance(pending, doctor.PendingTab)
        for row in range(pending.model.rowCount()):
            pending.list.select_row(row)
            shooter.shoot(window, f"doctor-pending-question-{row + 1}")
        _worklist_screens(shooter, window)
        patients = window.tab("Patients")
        assert isinstance(patients, doctor.PatientsTab)
        patients.picker.list.select_row(patients.picker.model.rowCount() - 1)
        shooter.settle()
        chart = patients.chart
        chart.detail.show_xray(chart.gallery.model.item(chart.gallery.model.rowCount() - 1))
        shooter.shoot(window, "doctor-patient-chart")
        chart.detail.panel.actions_by_key["help"].trigger()
        shooter.shoot(window, "doctor-viewer-help")
        chart.detail.panel.actions_by_key["help"].trigger()
        chart.detail.side.setCurrentWidget(chart.detail.tags)
        shooter.shoot(window, "doctor-dicom-tags")
        chart.detail.side.setCurrentIndex(0)
        chart.detail.open_compare()
        shooter.settle()
        compare = chart.detail.compare_window
        assert compare is not None
        compare.resize(*shooter.size)
        shooter.shoot(compare, "doctor-compare")
        compare.close()
        _signed_screens(shooter, window, chart)
        patients.chart.setCurrentIndex(1)
        shooter.shoot(window, "doctor-patient-history")
    else:
        users = window.tab("Users")
        assert isinstance(users, admin.UsersTab)
        users.list.select_row(0)
        shooter.shoot(window, "admin-user-selected")
        records = window.tab("Records")
        assert isinstance(records, admin.RecordsTab)
        records.picker.list.select_row(records.picker.model.rowCount() - 1)
        shooter.settle()
        records.chart.detail.show_xray(records.chart.gallery.model.item(0))
        shooter.shoot(window, "admin-records-patient")
        inbox = window.tab("DICOM inbox")
        shooter.settle()
        inbox.list.select_row(0)  # type: ignore[attr-defined]
        inbox.picker.search_edit.setText("Peter")  # type: ignore[attr-defined]
        inbox.picker.search()  # type: ignore[attr-defined]
        shooter.settle()
        inbox.picker.list.select_row(0)  # type: ignore[attr-defined]
        shooter.shoot(window, "admin-inbox-film")
    del tab
    window.log_out("Screenshots done.")
    wait_for(lambda: shooter.desktop.main_window is None)


def _worklist_screens(shooter: Shooter, window: MainWindow) -> None:
    """A film to read opened from the worklist, its preliminary result, the signing question."""
    from desktop.tabs.worklist import WorklistTab

    films = window.tab("Films to read")
    assert isinstance(films, WorklistTab)
    shooter.settle()
    hand = next(x for x in films.model.items if x.name_of_xray == "Left hand")
    films.open_xray_id(hand.id)
    shooter.settle()
    shooter.shoot(window, "doctor-worklist-preliminary")
    films.detail.result.ask_to_sign()
    box = films.detail.result.confirm_box
    shooter.shoot(box, "doctor-sign-confirmation")
    box.reject()


def _signed_screens(shooter: Shooter, window: MainWindow, chart: Any) -> None:
    """The signed chest film in the doctor's chart, then amended by an addendum."""
    chest = next(x for x in chart.gallery.model.items if x.name_of_xray == "Chest PA")
    chart.detail.show_xray(chest)
    shooter.settle()
    shooter.shoot(window, "doctor-result-signed")
    result = chart.detail.result
    result.addendum_button.click()
    result.addendum_edit.setPlainText("Compared with last year's film: unchanged.")
    result.add_addendum()
    wait_for(lambda: result.status.text().startswith("Addendum added"))
    shooter.shoot(window, "doctor-result-amended")


def _patient_result_screen(shooter: Shooter, window: MainWindow) -> None:
    """The patient reads the signed, amended chest result: signer, time and addendum."""
    from desktop.tabs.patient import XRaysTab

    xrays = window.tab("X-rays")
    assert isinstance(xrays, XRaysTab)
    shooter.settle()
    xrays.open_xray(next(x for x in xrays.gallery.model.items if x.name_of_xray == "Chest PA"))
    shooter.shoot(window, "patient-signed-result")
    xrays.show_gallery()


def take_screenshots(folder: Path, size: tuple[int, int] = WINDOW_SIZE) -> int:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="medsys-screens-") as scratch_name:
        scratch = Path(scratch_name)
        environment = server_environment(scratch, f"sqlite+aiosqlite:///{scratch / 'demo.db'}")
        for command in ("migrate", "seed-demo"):
            result = run_cli(environment, command)
            if result.returncode != 0:
                print(result.stderr, file=sys.stderr)
                return 1
        server = LiveServer(environment)
        url = server.start()
        app = QApplication.instance() or QApplication(sys.argv[:1])
        settings = QSettings(str(scratch / "desktop.ini"), QSettings.Format.IniFormat)
        desktop = DesktopApp(Config(settings), scratch / "cache")
        try:
            desktop.start(url)
            shooter = Shooter(desktop, folder, size)
            desktop.login_window.resize(480, 360)
            shooter.shoot(desktop.login_window, "login")
            desktop.login_window.create_account()
            assert desktop.login_window.dialog is not None
            shooter.shoot(desktop.login_window.dialog, "create-account")
            desktop.login_window.dialog.reject()
            for email, role in (
                ("paula@medsys.example", "patient"),
                ("grace@medsys.example", "doctor"),
                ("admin@medsys.example", "admin"),
            ):
                _role_screens(shooter, email, role)
            window = shooter.log_in("paula@medsys.example")
            _patient_result_screen(shooter, window)
            window.tab("Privacy")
            shooter.shoot(window, "patient-privacy")
            window.log_out("Screenshots done.")
        finally:
            desktop.shutdown()
            server.stop()
        del app
    return 0


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m devtools.screenshots",
        description="Render every screen of every role into DIR. For a larger text size, "
        "run with QT_SCALE_FACTOR=1.5.",
    )
    parser.add_argument("folder", type=Path, metavar="DIR")
    parser.add_argument("--size", default="1280x800", help="the main window's size, WxH")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    width, height = (int(part) for part in args.size.split("x"))
    sys.exit(take_screenshots(args.folder, (width, height)))
