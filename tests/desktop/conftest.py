"""Desktop tests: the real client against a real server process on a free loopback port."""

import asyncio
import itertools
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from desktop.api import ApiClient
from desktop.app import DesktopApp
from desktop.config import Config
from desktop.main_window import MainWindow
from devtools.live_server import LiveServer, run_cli, server_environment
from server.seed import DEMO_PASSWORD
from server.storage import LOCK_NAME
from shared.models import User
from tests.desktop.meanwhile import api_login, create_user

T = TypeVar("T")
PASSWORD = "desktop test password"
_numbers = itertools.count(1)


@dataclass
class Server:
    url: str
    data_dir: Path
    dicom_port: int

    def call(
        self, email: str, work: Callable[[ApiClient], Awaitable[T]], password: str = PASSWORD
    ) -> T:
        """Do something on the server as `email`, the way another person would, meanwhile."""

        async def run() -> T:
            api = ApiClient(self.url)
            try:
                await api_login(api, email, password)
                return await work(api)
            finally:
                await api.close()

        return asyncio.run(run())

    def as_admin(self, work: Callable[[ApiClient], Awaitable[T]]) -> T:
        return self.call("admin@medsys.example", work, DEMO_PASSWORD)

    def new_user(self, usertype: str, name: str | None = None) -> User:
        number = next(_numbers)
        email = f"{usertype}{number}@desktop.example"
        full_name = name or f"{usertype.title()} Number{number}"
        return self.as_admin(
            lambda api: create_user(api, full_name, email, "+1 555 7000", usertype, PASSWORD)
        )

    def storage_leftovers(self) -> list[Path]:
        temporary = self.data_dir / "storage" / "tmp"
        return [path for path in temporary.rglob("*") if path.is_file() and path.name != LOCK_NAME]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("desktop-server")
    environment = server_environment(data_dir, f"sqlite+aiosqlite:///{data_dir / 'medsys.db'}")
    for command in ("migrate", "seed-demo"):
        result = run_cli(environment, command)
        assert result.returncode == 0, result.stderr
    live = LiveServer(environment, ("--dicom-port", "0"))
    url = live.start()
    found = re.search(r"medsys DICOM listener on port (\d+)", live.startup_output)
    assert found, live.startup_output
    yield Server(url, data_dir, int(found.group(1)))
    live.stop()


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    return tmp_path / "desktop.ini"


@pytest.fixture
def desktop(
    qtbot: QtBot, server: Server, settings_file: Path, tmp_path: Path
) -> Iterator[DesktopApp]:
    config = Config(QSettings(str(settings_file), QSettings.Format.IniFormat))
    app = DesktopApp(config, tmp_path / "cache")
    qtbot.addWidget(app.login_window)
    app.start(server.url)
    yield app
    app.shutdown()


def log_in(qtbot: QtBot, desktop: DesktopApp, email: str, password: str = PASSWORD) -> MainWindow:
    """Type the credentials and press Enter, as a person would."""
    login = desktop.login_window
    login.email_edit.clear()
    qtbot.keyClicks(login.email_edit, email)
    login.password_edit.clear()
    qtbot.keyClicks(login.password_edit, password)
    qtbot.keyClick(login.password_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: desktop.main_window is not None, timeout=15000)
    window = desktop.main_window
    assert window is not None
    qtbot.waitUntil(lambda: desktop.runner.is_idle, timeout=15000)
    return window


def settle(qtbot: QtBot, desktop: DesktopApp) -> None:
    """Wait until no background job runs (a job may start others: thumbnails after a page)."""
    for _ in range(3):
        qtbot.waitUntil(lambda: desktop.runner.is_idle, timeout=15000)
        qtbot.wait(0)


def column_texts(model: Any, column: int) -> list[str]:
    return [model.index(row, column).data() for row in range(model.rowCount())]


def open_chart(qtbot: QtBot, desktop: DesktopApp, tab: Any, name: str) -> None:
    """Find a patient by name in a records tab (doctor's Patients, admin's Records) and open them."""
    tab.picker.search_edit.setText(name)
    tab.picker.search()
    qtbot.waitUntil(lambda: tab.picker.model.rowCount() == 1)
    tab.picker.list.select_row(0)
    settle(qtbot, desktop)


def click_confirm(qtbot: QtBot, parent: QWidget, button: str) -> None:
    """Answer the confirmation box that `parent` opened (window-modal, via open())."""

    def visible_boxes() -> list[QMessageBox]:
        return [box for box in parent.findChildren(QMessageBox, "confirm") if box.isVisible()]

    qtbot.waitUntil(lambda: len(visible_boxes()) == 1)
    for candidate in visible_boxes()[0].buttons():
        if candidate.text() == button:
            candidate.click()
            return
    raise AssertionError(f"no {button} button")


def sign(qtbot: QtBot, result: Any) -> None:
    """Press Sign… on a result panel and confirm, as a doctor would."""
    qtbot.mouseClick(result.sign_button, Qt.MouseButton.LeftButton)
    click_confirm(qtbot, result, "Sign")
    qtbot.waitUntil(lambda: result.status.text().startswith("Signed."))
