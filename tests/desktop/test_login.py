"""Logging in and out, creating accounts, the idle log-off and remembered settings."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot
from shiboken6 import Shiboken

from desktop.api import ApiClient
from desktop.app import DesktopApp
from desktop.config import Config
from desktop.drafts import Draft
from desktop.http import ApiError
from server.seed import DEMO_PASSWORD
from tests.desktop.conftest import PASSWORD, Server, log_in, settle
from tests.desktop.meanwhile import api_login


def test_wrong_password_is_shown_next_to_the_password(
    qtbot: QtBot, desktop: DesktopApp, server: Server
) -> None:
    patient = server.new_user("patient")
    login = desktop.login_window
    qtbot.keyClicks(login.email_edit, patient.email)
    qtbot.keyClicks(login.password_edit, "not my password")
    qtbot.mouseClick(login.login_button, Qt.MouseButton.LeftButton)
    password_error = login.errors["password"]
    qtbot.waitUntil(password_error.isVisible)
    assert password_error.text() == "The email or password is wrong."
    assert desktop.main_window is None


def test_an_unreachable_server_is_named(qtbot: QtBot, desktop: DesktopApp) -> None:
    login = desktop.login_window
    login.server_edit.setText("http://127.0.0.1:9")  # the discard port: nothing listens
    qtbot.keyClicks(login.email_edit, "someone@example.org")
    qtbot.keyClicks(login.password_edit, "whatever it is")
    login.login_button.click()
    qtbot.waitUntil(login.errors["server"].isVisible, timeout=15000)
    assert "Cannot reach the server at http://127.0.0.1:9" in login.errors["server"].text()
    login.server_edit.setText("127.0.0.1:8080")
    login.login_button.click()
    assert "http://" in login.errors["server"].text()


def test_login_opens_the_role_window_and_logout_clears_it(
    qtbot: QtBot, desktop: DesktopApp, server: Server, tmp_path: Path
) -> None:
    patient = server.new_user("patient", "Lena Login")
    window = log_in(qtbot, desktop, patient.email)
    assert window.windowTitle() == "medsys — Lena Login (patient)"
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == [
        "Questions",
        "X-rays",
        "Medical history",
        "Privacy",
    ]
    assert "Connected to" in window.connection.text()
    assert not desktop.login_window.isVisible()

    window.logout_action.trigger()
    qtbot.waitUntil(desktop.login_window.isVisible)
    assert desktop.main_window is None
    assert window.tabs.count() == 0  # nothing of the patient's left in the window
    assert desktop.login_window.notice.text() == "You have logged out."
    assert not (tmp_path / "cache" / str(patient.id)).exists()


def test_any_401_ends_the_session_and_says_why(
    qtbot: QtBot, desktop: DesktopApp, server: Server, tmp_path: Path
) -> None:
    patient = server.new_user("patient")
    window = log_in(qtbot, desktop, patient.email)
    tab = window.tab("Questions")
    settle(qtbot, desktop)
    # An administrator deactivates the account meanwhile: the server ends its sessions.
    server.as_admin(lambda api: api.deactivate_user(patient.id))
    # Any call at all meets the 401, here a list's Refresh (F5).
    tab.list.table.setFocus()
    window.activateWindow()
    qtbot.keyClick(tab.list.table, Qt.Key.Key_F5)
    qtbot.waitUntil(desktop.login_window.isVisible)
    assert desktop.main_window is None
    assert desktop.login_window.notice.text().startswith("Your session has ended")
    qtbot.waitUntil(lambda: not Shiboken.isValid(window))  # the window and its data are gone
    assert not (tmp_path / "cache" / str(patient.id)).exists()


def test_idle_log_off(qtbot: QtBot, desktop: DesktopApp, server: Server) -> None:
    desktop.config.idle_minutes = 0.01  # 600 ms
    patient = server.new_user("patient")
    window = log_in(qtbot, desktop, patient.email)
    qtbot.waitUntil(desktop.login_window.isVisible, timeout=5000)
    assert desktop.main_window is None
    assert "without activity" in desktop.login_window.notice.text()
    qtbot.waitUntil(lambda: not Shiboken.isValid(window))  # the window and its data are gone


def test_register_a_patient_and_a_doctor(qtbot: QtBot, desktop: DesktopApp, server: Server) -> None:
    login = desktop.login_window

    def register(name: str, email: str, role_index: int, password: str = PASSWORD) -> None:
        login.create_button.click()
        dialog = login.dialog
        assert dialog is not None
        qtbot.waitUntil(dialog.isVisible)
        qtbot.keyClicks(dialog.name_edit, name)
        qtbot.keyClicks(dialog.email_edit, email)
        qtbot.keyClicks(dialog.phone_edit, "+1 555 1234")
        dialog.role_combo.setCurrentIndex(role_index)
        qtbot.keyClicks(dialog.password_edit, password)
        qtbot.keyClicks(dialog.repeat_edit, password)
        dialog.create_button.click()

    register("Doris Doctor", "doris@desktop.example", 1)
    qtbot.waitUntil(login.notice.isVisible)
    assert "waits for an administrator's approval" in login.notice.text()
    waiting = server.as_admin(lambda api: api.users("doctor", False, "doris"))
    assert [user.email for user in waiting.items] == ["doris@desktop.example"]

    register("Sam Short", "sam@desktop.example", 0, password="short")
    dialog = login.dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.errors["password"].isVisible)
    assert "8 characters" in dialog.errors["password"].text()
    dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()

    register("Pat New", "pat.new@desktop.example", 0)
    qtbot.waitUntil(lambda: "ready" in login.notice.text())
    assert login.email_edit.text() == "pat.new@desktop.example"
    register("Pat Again", "PAT.NEW@desktop.example", 0)
    dialog = login.dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.error.isVisible)
    assert "already exists" in dialog.error.text()
    dialog.reject()
    window = log_in(qtbot, desktop, "pat.new@desktop.example")
    assert window.windowTitle() == "medsys — Pat New (patient)"


def test_settings_are_remembered(
    qtbot: QtBot, desktop: DesktopApp, server: Server, settings_file: Path, tmp_path: Path
) -> None:
    doctor = server.new_user("doctor")
    window = log_in(qtbot, desktop, doctor.email)
    window.tab("Patients")
    window.resize(790, 560)  # within the offscreen screen (800×800), which restoring respects
    size = (window.width(), window.height())
    window.logout_action.trigger()
    settle(qtbot, desktop)
    desktop.config.sync()

    again = DesktopApp(
        Config(QSettings(str(settings_file), QSettings.Format.IniFormat)), tmp_path / "cache2"
    )
    qtbot.addWidget(again.login_window)
    try:
        assert again.login_window.server_edit.text() == server.url
        assert again.login_window.email_edit.text() == doctor.email
        again.start()
        second = log_in(qtbot, again, doctor.email)
        assert second.tab_titles[second.tabs.currentIndex()] == "Patients"
        # Restored, not the default 1280×800: within a frame's pixels and what the contents'
        # minimum size adds on the 800×800 offscreen screen.
        assert (second.width(), second.height()) != (1280, 800)
        assert abs(second.width() - size[0]) <= 16
        assert abs(second.height() - size[1]) <= 16
    finally:
        again.shutdown()


def test_the_idle_time_is_a_preference_within_the_practices_limit(
    qtbot: QtBot, desktop: DesktopApp, server: Server
) -> None:
    desktop.config.idle_minutes = 240  # an old preference, longer than the practice allows
    patient = server.new_user("patient")
    window = log_in(qtbot, desktop, patient.email)
    assert window.idle.limit_seconds == 15 * 60  # the server's MEDSYS_IDLE_TIMEOUT (900 s)
    window.preferences_action.trigger()
    qtbot.waitUntil(window.preferences.isVisible)
    spin = window.preferences.idle_spin
    assert spin.maximum() == 15
    spin.setValue(5)
    window.preferences.accept()
    assert window.idle.limit_seconds == 5 * 60
    assert desktop.config.idle_minutes == 5


def test_a_warning_counts_down_before_the_idle_log_off_and_input_cancels_it(
    qtbot: QtBot, desktop: DesktopApp, server: Server
) -> None:
    desktop.config.idle_minutes = 0.05  # 3 s: the warning shows for the last 1.5 s
    patient = server.new_user("patient")
    window = log_in(qtbot, desktop, patient.email)
    banner = window.idle_banner
    qtbot.waitUntil(banner.isVisible, timeout=5000)
    assert "logged off in" in banner.text()
    qtbot.mouseMove(window.tabs, QPoint(20, 20))  # the user is back
    qtbot.waitUntil(lambda: not banner.isVisible())
    assert desktop.main_window is window
    # Left alone, the log-off comes, and says what was discarded.
    window.session.drafts.keep(("answer", 1), Draft("an answer to Paula", "text", lambda: None))  # type: ignore[arg-type, return-value]
    qtbot.waitUntil(desktop.login_window.isVisible, timeout=8000)
    assert "Unsaved work was discarded: an answer to Paula." in desktop.login_window.notice.text()


def test_quit_logs_out_and_ends_the_program(
    qtbot: QtBot, server: Server, settings_file: Path, tmp_path: Path
) -> None:
    quits: list[bool] = []
    config = Config(QSettings(str(settings_file), QSettings.Format.IniFormat))
    app = DesktopApp(config, tmp_path / "cache", quit_application=lambda: quits.append(True))
    qtbot.addWidget(app.login_window)
    try:
        app.start(server.url)
        patient = server.new_user("patient")
        window = log_in(qtbot, app, patient.email)
        window.quit_action.trigger()
        assert quits == [True]
        assert app.main_window is None
        assert not app.login_window.isVisible()
        assert not (tmp_path / "cache" / str(patient.id)).exists()
    finally:
        app.shutdown()


def test_quit_during_live_work_ends_the_program_cleanly(server: Server, tmp_path: Path) -> None:
    # In a process of its own: a crash at exit (a fatal error, a hang) shows as its status.
    for attempt in range(3):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.desktop.quit_drill",
                server.url,
                "paula@medsys.example",
                DEMO_PASSWORD,
                str(tmp_path / str(attempt)),
            ],
            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert "Fatal Python error" not in result.stderr
        assert "Traceback" not in result.stderr


def test_a_client_closed_at_logout_opens_no_new_connection(server: Server) -> None:
    """A call still under way at logout (the live events reconnecting, a retried read) is
    told the session has ended; it opened a new connection pool once, which nobody closed."""
    patient = server.new_user("patient")

    async def after_logout() -> tuple[int, bool]:
        api = ApiClient(server.url)
        await api_login(api, patient.email, PASSWORD)
        await api.logout()
        await api.close()
        try:
            await api.profile()
        except ApiError as error:
            return error.status, api.has_open_connections
        raise AssertionError("a closed client answered")

    status, open_connections = asyncio.run(after_logout())
    assert status == 401
    assert not open_connections
