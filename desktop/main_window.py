"""The main window: the role's tabs, the connection state, log-out and the idle log-off."""

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QMainWindow,
    QSpinBox,
    QTabWidget,
    QWidget,
)

from desktop.config import Config
from desktop.operations import auth as auth_ops
from desktop.roles import tabs_for
from desktop.session import Session

ACTIVITY_EVENTS = {
    QEvent.Type.KeyPress,
    QEvent.Type.MouseButtonPress,
    QEvent.Type.MouseMove,
    QEvent.Type.Wheel,
}


class IdleWatcher(QObject):
    """Fires `idle` after `minutes` without keyboard or mouse input anywhere in the app."""

    idle = Signal()

    def __init__(self, minutes: float, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(max(1, int(minutes * 60_000)))
        self.timer.timeout.connect(self.idle)

    def start(self) -> None:
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        self.timer.start()

    def stop(self) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        self.timer.stop()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() in ACTIVITY_EVENTS:
            self.timer.start()
        return False


class MainWindow(QMainWindow):
    logged_out = Signal(str)  # why: shown on the login window
    quit_requested = Signal()  # Quit, or the window closed: log out and end the program

    def __init__(self, session: Session, config: Config) -> None:
        super().__init__()
        self._logging_out = False
        self.session = session
        self._config = config
        user = session.user
        self.role = user.usertype.value
        self.setWindowTitle(f"medsys — {user.full_name} ({self.role})")
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        for title, widget in tabs_for(session):
            self.tabs.addTab(widget, title)
        self.setCentralWidget(self.tabs)
        last = config.last_tab(self.role)
        for index in range(self.tabs.count()):
            if self.tabs.tabText(index) == last:
                self.tabs.setCurrentIndex(index)
        self.tabs.currentChanged.connect(self._remember_tab)
        self.connection = QLabel("", self)
        self.statusBar().addPermanentWidget(self.connection)
        self._connected()
        session.events.reachable.connect(self._connected)
        session.events.unreachable.connect(self._disconnected)
        session.events.retrying.connect(self._retrying)
        session.events.expired.connect(
            lambda detail: self.log_out(f"Your session has ended: {detail}")
        )
        self._build_menu()
        geometry = config.window_geometry
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1280, 800)
        self.idle = IdleWatcher(config.idle_minutes, self)
        self.idle.idle.connect(
            lambda: self.log_out(
                f"You were logged off after {config.idle_minutes:g} minutes without activity."
            )
        )
        self.idle.start()

    def _remember_tab(self, index: int) -> None:
        # Tabs removed while logging out must not overwrite the tab the user was on.
        if not self._logging_out:
            self._config.set_last_tab(self.role, self.tabs.tabText(index))

    def _build_menu(self) -> None:
        account = self.menuBar().addMenu("&Account")
        self.logout_action = QAction("Log &out", self)
        self.logout_action.setShortcut(QKeySequence("Ctrl+Shift+L"))
        self.logout_action.triggered.connect(lambda: self.log_out("You have logged out."))
        account.addAction(self.logout_action)
        self.preferences_action = QAction("&Preferences…", self)
        self.preferences_action.triggered.connect(self.open_preferences)
        account.addAction(self.preferences_action)
        self.quit_action = quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        account.addAction(quit_action)

    def open_preferences(self) -> None:
        dialog = QDialog(self)
        dialog.setWindowTitle("Preferences")
        self.idle_spin = QSpinBox(dialog)
        self.idle_spin.setRange(1, 240)
        self.idle_spin.setSuffix(" minutes")
        self.idle_spin.setValue(max(1, round(self._config.idle_minutes)))
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, dialog
        )
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        form = QFormLayout(dialog)
        form.addRow("Log off after inactivity of", self.idle_spin)
        form.addRow(buttons)

        def accepted() -> None:
            self._config.idle_minutes = self.idle_spin.value()
            self.idle.timer.setInterval(self.idle_spin.value() * 60_000)
            self.idle.timer.start()

        dialog.accepted.connect(accepted)
        dialog.setObjectName("preferences")
        self.preferences = dialog
        dialog.open()

    def _connected(self) -> None:
        self.connection.setText(f"● Connected to {self.session.server_url}")
        self.connection.setStyleSheet("color: #1b7f3b;")

    def _retrying(self, message: str) -> None:
        self.connection.setText(f"● {message}")
        self.connection.setStyleSheet("color: #a05a00;")

    def _disconnected(self, detail: str) -> None:
        self.connection.setText(f"● Offline: {detail}")
        self.connection.setStyleSheet("color: #b00020;")

    def tab(self, title: str) -> QWidget:
        for index in range(self.tabs.count()):
            widget = self.tabs.widget(index)
            if self.tabs.tabText(index) == title and widget is not None:
                self.tabs.setCurrentIndex(index)
                return widget
        raise KeyError(title)

    def log_out(self, reason: str) -> None:
        """End the session: forget every patient datum this window showed, and its images."""
        if self._logging_out:
            return
        self._logging_out = True
        self.session.end()
        self.idle.stop()
        self._config.window_geometry = self.saveGeometry()
        while self.tabs.count():
            widget = self.tabs.widget(0)
            self.tabs.removeTab(0)
            if widget is not None:
                widget.deleteLater()
        session = self.session
        session.cache.clear(session.user.id)
        auth_ops.log_out(session)
        self.logged_out.emit(reason)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.log_out("You have logged out.")
        self.quit_requested.emit()
        super().closeEvent(event)
