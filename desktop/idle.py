"""The automatic log-off after inactivity, and the warning before it.

A minute before the log-off (or half the limit, when it is shorter than two minutes) a banner
counts down; any key or mouse input anywhere in the program cancels it and starts the wait again.
"""

import math
import time

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication, QLabel, QWidget

ACTIVITY_EVENTS = {
    QEvent.Type.KeyPress,
    QEvent.Type.MouseButtonPress,
    QEvent.Type.MouseMove,
    QEvent.Type.Wheel,
}
WARNING_SECONDS = 60.0


class IdleWatcher(QObject):
    """`warning(seconds_left)` each second of the last minute, `idle` at the limit, `active`
    when input comes during the warning."""

    idle = Signal()
    warning = Signal(int)
    active = Signal()

    def __init__(self, minutes: float, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.timer = QTimer(self)  # until the warning starts
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self._tick)
        self._countdown = QTimer(self)
        self._countdown.setInterval(1000)
        self._countdown.timeout.connect(self._tick)
        self._deadline = 0.0
        self.warning_shown = False
        self.set_minutes(minutes)

    @property
    def limit_seconds(self) -> float:
        return self._limit

    def set_minutes(self, minutes: float) -> None:
        self._limit = max(0.001, minutes * 60)
        self._lead = min(WARNING_SECONDS, self._limit / 2)
        if self.timer.isActive() or self._countdown.isActive():
            self._restart()

    def start(self) -> None:
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        self._restart()

    def stop(self) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        self.timer.stop()
        self._countdown.stop()

    def _restart(self) -> None:
        self._deadline = time.monotonic() + self._limit
        self._countdown.stop()
        self.timer.start(max(1, int((self._limit - self._lead) * 1000)))
        if self.warning_shown:
            self.warning_shown = False
            self.active.emit()

    def _tick(self) -> None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            self.stop()
            self.idle.emit()
            return
        self.warning_shown = True
        self.warning.emit(math.ceil(left))
        # The next tick at the next whole second, or at the deadline.
        self._countdown.start(max(1, min(1000, int(left * 1000))))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() in ACTIVITY_EVENTS:
            self._restart()
        return False


class IdleBanner(QLabel):
    """The countdown, above the tabs."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("idle-banner")
        self.setAccessibleName("Automatic log-off warning")
        self.setStyleSheet(
            "background: #fff3c4; color: #5c4400; padding: 8px; border-bottom: 1px solid #e0c060;"
        )
        self.setWordWrap(True)
        self.setVisible(False)

    def count_down(self, seconds_left: int) -> None:
        self.setText(
            f"For your patients' privacy you will be logged off in {seconds_left} s, and "
            "unsaved work will be discarded. Press any key or move the mouse to stay."
        )
        self.setVisible(True)
