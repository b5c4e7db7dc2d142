"""The desktop application: the login window, then the main window of the logged-in role."""

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QApplication

from desktop.api import ApiClient
from desktop.cache import ImageCache
from desktop.config import Config
from desktop.login import LoginWindow
from desktop.main_window import MainWindow
from desktop.runner import AsyncRunner
from desktop.session import Session, SessionEvents
from shared.models import LoginResponse


def default_cache_root() -> Path:
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.CacheLocation)
    return Path(location or Path.home() / ".cache" / "medsys") / "images"


class DesktopApp:
    def __init__(
        self,
        config: Config,
        cache_root: Path,
        runner: AsyncRunner | None = None,
        quit_application: Callable[[], None] = QApplication.quit,
    ) -> None:
        self.config = config
        self._quit_application = quit_application
        self.cache = ImageCache(cache_root)
        self.runner = runner or AsyncRunner()
        self.login_window = LoginWindow(self.runner, config)
        self.login_window.logged_in.connect(self._logged_in)
        self.main_window: MainWindow | None = None

    def start(self, server_url: str | None = None) -> None:
        if server_url:
            self.login_window.server_edit.setText(server_url)
        self.login_window.show()

    def _logged_in(self, api: ApiClient, answer: LoginResponse) -> None:
        session = Session(
            api=api,
            runner=self.runner,
            user=answer.user,
            cache=self.cache,
            events=SessionEvents(),
            idle_limit_minutes=answer.idle_timeout / 60 if answer.idle_timeout else None,
        )
        window = MainWindow(session, self.config)
        window.logged_out.connect(self._logged_out)
        window.quit_requested.connect(self._quit)
        self.main_window = window
        self.login_window.hide()
        window.show()

    def _logged_out(self, reason: str) -> None:
        window, self.main_window = self.main_window, None
        if window is not None:
            window.hide()
            window.deleteLater()
        self.login_window.show_notice(reason)
        self.login_window.show()

    def _quit(self) -> None:
        self.login_window.hide()
        self._quit_application()

    def shutdown(self) -> None:
        if self.main_window is not None:
            self.main_window.log_out("The application closed.")
        self.config.sync()
        self.runner.stop()
