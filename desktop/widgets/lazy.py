"""Loading a tab's data when it is shown, not when it is built.

Every read of a patient's data is written to that patient's access log ("who looked at my
records"), so a window must read only what its user opens: logging in builds every tab of the
role, and none of them may read anything until the user looks at it.
"""

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QWidget


class _ShowWatcher(QObject):
    def __init__(self, widget: QWidget, load: Callable[[], None], every_time: bool) -> None:
        super().__init__(widget)
        self._load = load
        self._every_time = every_time
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Show:
            if not self._every_time:
                watched.removeEventFilter(self)
            self._load()
        return False


def when_first_shown(widget: QWidget, load: Callable[[], None]) -> None:
    """Call `load` the first time `widget` is shown."""
    _ShowWatcher(widget, load, every_time=False)


def whenever_shown(widget: QWidget, load: Callable[[], None]) -> None:
    """Call `load` each time `widget` is shown (a picker that must offer current data)."""
    _ShowWatcher(widget, load, every_time=True)
