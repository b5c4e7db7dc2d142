"""What waits for the user: counts for the tabs' badges, and a system notification for what
arrives while the window is not in front.

Doctors' and admins' counts come from GET /api/counts (numbers only: reading them is no look
at any patient's records). A patient's "unread" answers and results are counted here, from
their own questions and films, against what this computer showed them last (desktop.Config).
A notification names no patient and quotes nothing (a screen may be seen by others); clicking
it opens the object.
"""

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QSystemTrayIcon

from desktop.config import Config
from desktop.live import Follower
from desktop.operations import attention as attention_ops
from desktop.session import Session
from shared.enums import EventType, UserType
from shared.models import Counts, Event, Question, XRay

# Events are often several per change (a question answered reaches the queue and the
# patient): counts are fetched once they settle.
SETTLE_MS = 300


@dataclass(frozen=True, slots=True)
class Target:
    """What a notification opens: a tab and the object in it."""

    tab: str
    object_id: int


# (title, message, tab) of what each role is told; the object is the event's.
NOTICES: dict[UserType, dict[str, tuple[str, str, str]]] = {
    UserType.patient: {
        EventType.question_answered: (
            "New answer",
            "A doctor answered your question.",
            "Questions",
        ),
        EventType.xray_signed: ("Result ready", "The result of an x-ray is ready.", "X-rays"),
        EventType.xray_amended: ("Result amended", "A doctor added to an x-ray result.", "X-rays"),
    },
    UserType.doctor: {
        EventType.question_created: (
            "New question",
            "A patient asked a question.",
            "Pending questions",
        ),
        EventType.xray_created: ("New film to read", "An x-ray arrived.", "Films to read"),
    },
}


def question_mark(question: Question) -> str:
    """How much of a question's thread exists: its answers."""
    return str(len(question.responses))


def result_mark(xray: XRay) -> str:
    """How much of a signed result exists: its status and addenda."""
    return f"{xray.result_status.value}:{len(xray.addenda)}"


class Attention(QObject):
    counts_changed = Signal(dict)  # tab title -> how many wait there
    notified = Signal(str, str)  # title, message (also shown by the system tray)
    open_requested = Signal(object)  # a Target: the user clicked a notification

    def __init__(self, session: Session, config: Config, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._config = config
        self.counts: dict[str, int] = {}
        self._questions: list[Question] = []
        self._xrays: list[XRay] = []
        self._last_target: Target | None = None
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self.update_counts)
        self.window_active: Callable[[], bool] = lambda: True  # set by the window
        self.tray = QSystemTrayIcon(_icon(), self)
        self.tray.setToolTip("medsys")
        self.tray.messageClicked.connect(self.open_last)
        events = [*{e for notices in NOTICES.values() for e in notices}]
        events += [EventType.question_claimed, EventType.user_registered]
        Follower(session.live, events, self._arrived, self)

    def start(self) -> None:
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray.show()
        self.update_counts()

    def stop(self) -> None:
        self._settle.stop()
        self.tray.hide()

    # --- counts -------------------------------------------------------------------------

    def update_counts(self) -> None:
        session = self._session
        if session.user.usertype == UserType.patient:
            attention_ops.own_lists(session, self._patient_lists_read)
        else:
            attention_ops.counts(session, self._counts_read)

    def _counts_read(self, counts: Counts) -> None:
        shown = {
            "Pending questions": counts.pending_questions,
            "Films to read": counts.films_to_read,
            "Users": counts.awaiting_approval,
        }
        self._set_counts({tab: n for tab, n in shown.items() if n is not None})

    def _patient_lists_read(self, lists: tuple[list[Question], list[XRay]]) -> None:
        self._questions, self._xrays = lists
        self._count_unread()

    def _count_unread(self) -> None:
        me, seen = self._session.user.id, self._config.seen
        answers = sum(
            1 for q in self._questions if q.responses and seen(me, f"q{q.id}") != question_mark(q)
        )
        results = sum(
            1 for x in self._xrays if x.result_final and seen(me, f"x{x.id}") != result_mark(x)
        )
        self._set_counts({"Questions": answers, "X-rays": results})

    def _set_counts(self, counts: dict[str, int]) -> None:
        if counts != self.counts:
            self.counts = counts
            self.counts_changed.emit(counts)

    def seen(self, item: object) -> None:
        """The user looked at a question or a film: what it holds now is read."""
        if self._session.user.usertype != UserType.patient:
            return
        me = self._session.user.id
        if isinstance(item, Question):
            self._config.set_seen(me, f"q{item.id}", question_mark(item))
            self._questions = [item if q.id == item.id else q for q in self._questions]
        elif isinstance(item, XRay) and item.result_final:
            self._config.set_seen(me, f"x{item.id}", result_mark(item))
            self._xrays = [item if x.id == item.id else x for x in self._xrays]
        self._count_unread()

    # --- events -------------------------------------------------------------------------

    def _arrived(self, event: Event | None) -> None:
        self._settle.start()
        notice = NOTICES.get(self._session.user.usertype, {}).get(event.type) if event else None
        if event is None or notice is None or event.object_id is None:
            return
        title, message, tab = notice
        self.notify(title, message, Target(tab, event.object_id))

    def notify(self, title: str, message: str, target: Target) -> None:
        if not self._config.notifications or self.window_active():
            return
        self._last_target = target
        self.tray.showMessage(title, message, QSystemTrayIcon.MessageIcon.Information, 10000)
        self.notified.emit(title, message)

    def open_last(self) -> None:
        if self._last_target is not None:
            self.open_requested.emit(self._last_target)


def _icon() -> QIcon:
    pixmap = QPixmap(32, 32)
    pixmap.fill(QColor("#1b5e9b"))
    return QIcon(pixmap)
