"""Run by test_quit_during_live_work: the real main loop, logged in as a patient, films and
thumbnails loading and the idle timers running, then Quit. Exits as the program would."""

import sys
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from desktop.app import DesktopApp
from desktop.config import Config


def main() -> int:
    url, email, password, folder = sys.argv[1:5]
    app = QApplication(sys.argv[:1])
    config = Config(QSettings(str(Path(folder) / "drill.ini"), QSettings.Format.IniFormat))
    desktop = DesktopApp(config, Path(folder) / "cache")
    desktop.start(url)
    login = desktop.login_window
    login.email_edit.setText(email)
    login.password_edit.setText(password)
    login.log_in()

    def when_logged_in() -> None:
        window = desktop.main_window
        if window is None:
            QTimer.singleShot(20, when_logged_in)
            return
        tab = window.tab("X-rays")  # thumbnails start loading
        gallery = tab.gallery  # type: ignore[attr-defined]

        def open_a_film_then_quit() -> None:
            if gallery.model.rowCount() == 0:
                QTimer.singleShot(20, open_a_film_then_quit)
                return
            tab.open_xray(gallery.model.item(0))  # type: ignore[attr-defined]
            QTimer.singleShot(5, window.quit_action.trigger)  # while the film downloads

        open_a_film_then_quit()

    when_logged_in()
    try:
        status = app.exec()
    finally:
        desktop.shutdown()
    return status


if __name__ == "__main__":
    sys.exit(main())
