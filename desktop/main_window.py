"""The main window: the role's tabs, the connection state, log-out and the idle log-off."""

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.account import PasswordDialog, PreferencesDialog, ProfileDialog
from desktop.attention import Attention, Target
from desktop.config import Config
from desktop.idle import IdleBanner, IdleWatcher
from desktop.operations import auth as auth_ops
from desktop.roles import tabs_for
from desktop.session import Session
from desktop.unsaved import ask_about_unsaved_work
from desktop.widgets.notice import NoticeBar


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
        self.attention = Attention(session, config, self)
        self.attention.window_active = self.isActiveWindow
        self.attention.counts_changed.connect(self._show_counts)
        self.attention.open_requested.connect(self.open_target)
        self.tab_titles: list[str] = []  # the tabs' names, without their counts
        for title, widget in tabs_for(session):
            self.tabs.addTab(widget, title)
            self.tab_titles.append(title)
            requested = getattr(widget, "xray_requested", None)
            if requested is not None:
                requested.connect(self.open_xray)
            seen = getattr(widget, "seen", None)
            if seen is not None:
                seen.connect(self.attention.seen)
        self.idle_banner = IdleBanner(self)
        self.notice = NoticeBar(self)
        self.notice.open_clicked.connect(self.attention.open_last)
        self.attention.notified.connect(self._notified)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.idle_banner)
        layout.addWidget(self.notice)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        last = config.last_tab(self.role)
        if last in self.tab_titles:
            self.tabs.setCurrentIndex(self.tab_titles.index(last))
        self.tabs.currentChanged.connect(self._remember_tab)
        self.connection = QLabel("", self)
        self.statusBar().addPermanentWidget(self.connection)
        self._connected()
        session.events.reachable.connect(self._connected)
        session.live.state_changed.connect(lambda _live: self._connected())
        session.events.unreachable.connect(self._disconnected)
        session.events.retrying.connect(self._retrying)
        session.events.expired.connect(
            lambda detail: self.log_out(f"Your session has ended: {detail}")
        )
        self._build_menu()
        geometry = config.window_geometry
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1280, 800)
        self.idle = IdleWatcher(self.idle_minutes, self)
        self.idle.warning.connect(self.idle_banner.count_down)
        self.idle.active.connect(self.idle_banner.hide)
        self.idle.idle.connect(self._idle_log_off)
        self.idle.start()
        session.live.start()
        self.attention.start()

    def _remember_tab(self, index: int) -> None:
        # Tabs removed while logging out must not overwrite the tab the user was on.
        if not self._logging_out and 0 <= index < len(self.tab_titles):
            self._config.set_last_tab(self.role, self.tab_titles[index])

    def _show_counts(self, counts: dict[str, int]) -> None:
        """A tab's name says how much waits there: "Films to read (3)"."""
        for index, title in enumerate(self.tab_titles):
            waiting = counts.get(title, 0)
            self.tabs.setTabText(index, f"{title} ({waiting})" if waiting else title)

    def _build_menu(self) -> None:
        account = self.menuBar().addMenu("&Account")
        self.profile_action = QAction("My &profile…", self)
        self.profile_action.triggered.connect(self.open_profile)
        self.password_action = QAction("Change my pass&word…", self)
        self.password_action.triggered.connect(self.open_password)
        self.preferences_action = QAction("P&references…", self)
        self.preferences_action.triggered.connect(self.open_preferences)
        self.logout_action = QAction("Log &out", self)
        self.logout_action.setShortcut(QKeySequence("Ctrl+Shift+L"))
        self.logout_action.triggered.connect(lambda: self.request_log_out("You have logged out."))
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.triggered.connect(self.close)
        for action in (self.profile_action, self.password_action, self.preferences_action):
            account.addAction(action)
        account.addSeparator()
        account.addAction(self.logout_action)
        account.addAction(self.quit_action)

    @property
    def idle_minutes(self) -> float:
        """This computer's wait before the log-off: the user's choice, within the practice's."""
        policy = self.session.idle_limit_minutes
        chosen = self._config.idle_minutes
        return min(chosen, policy) if policy is not None else chosen

    def open_preferences(self) -> None:
        limit = self.session.idle_limit_minutes or 240.0
        self.preferences = PreferencesDialog(self._config, limit, self)
        self.preferences.accepted.connect(lambda: self.idle.set_minutes(self.idle_minutes))
        self.preferences.open()

    def open_profile(self) -> None:
        self.profile_dialog = ProfileDialog(self.session, self)
        self.profile_dialog.accepted.connect(self._title)
        self.profile_dialog.open()

    def open_password(self) -> None:
        self.password_dialog = PasswordDialog(self.session, self)
        self.password_dialog.accepted.connect(
            lambda: self.statusBar().showMessage(
                "Your password was changed; your sessions on other computers have ended.", 15000
            )
        )
        self.password_dialog.open()

    def _title(self) -> None:
        user = self.session.user
        self.setWindowTitle(f"medsys — {user.full_name} ({self.role})")

    def _connected(self) -> None:
        connected = f"● Connected to {self.session.server_url}"
        if self.session.live.is_live:
            self.connection.setText(f"{connected} · live")
            self.connection.setStyleSheet("color: #1b7f3b;")
        else:
            self.connection.setText(f"{connected} · live updates reconnecting…")
            self.connection.setStyleSheet("color: #a05a00;")

    def _retrying(self, message: str) -> None:
        self.connection.setText(f"● {message}")
        self.connection.setStyleSheet("color: #a05a00;")

    def _disconnected(self, detail: str) -> None:
        self.connection.setText(f"● Offline: {detail}")
        self.connection.setStyleSheet("color: #b00020;")

    def open_xray(self, xray_id: int) -> None:
        """Show a film in the tab that shows films (a patient's X-rays)."""
        for index in range(self.tabs.count()):
            opener = getattr(self.tabs.widget(index), "open_xray_id", None)
            if opener is not None:
                self.tabs.setCurrentIndex(index)
                opener(xray_id)
                return

    def tab(self, title: str) -> QWidget:
        """Bring the tab of that name (without its count) to the front."""
        widget = (
            self.tabs.widget(self.tab_titles.index(title)) if title in self.tab_titles else None
        )
        if widget is None:
            raise KeyError(title)
        self.tabs.setCurrentWidget(widget)
        return widget

    def _notified(self, title: str, message: str) -> None:
        self.notice.show_notice(title, message)
        QApplication.alert(self)  # the taskbar entry asks for attention

    def open_target(self, target: Target) -> None:
        """Open what a notification was about, in front."""
        self.showNormal()
        self.raise_()
        self.activateWindow()
        widget = self.tab(target.tab)
        opener = getattr(widget, "open_question_id", None) or getattr(widget, "open_xray_id", None)
        if opener is not None:
            opener(target.object_id)

    def _idle_log_off(self) -> None:
        reason = f"You were logged off after {self.idle_minutes:g} minutes without activity."
        drafts = self.session.drafts.all()
        if drafts:
            what = "; ".join(draft.description for draft in drafts)
            reason += f" Unsaved work was discarded: {what}."
        self.log_out(reason)

    def request_log_out(self, reason: str, then_quit: bool = False) -> None:
        """Log out as the user asked; unsaved work is saved or discarded as they choose."""
        if not self.session.drafts.all():
            self._leave(reason, then_quit)
            return
        self.unsaved_box = ask_about_unsaved_work(
            self, self.session, lambda: self._leave(reason, then_quit)
        )

    def _leave(self, reason: str, then_quit: bool) -> None:
        self.log_out(reason)
        if then_quit:
            self.quit_requested.emit()

    def log_out(self, reason: str) -> None:
        """End the session: forget every patient datum this window showed, and its images."""
        if self._logging_out:
            return
        self._logging_out = True
        self.session.end()
        self.attention.stop()
        self.session.drafts.clear()
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
        if self._logging_out:
            super().closeEvent(event)
            return
        # Quit, or the window's close button: log out first (asking about unsaved work).
        event.ignore()
        self.request_log_out("You have logged out.", then_quit=True)
