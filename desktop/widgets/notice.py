"""What arrived while the user was away, said inside the window too: many Linux desktops have
no system tray (then a tray message is never seen), and a user coming back should find it."""

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

# Long enough to be read on coming back to the computer; the tray message lasts 10 s.
SHOWN_MS = 120_000


class NoticeBar(QFrame):
    """ "New answer: A doctor answered your question. [Open] [×]" above the tabs."""

    open_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notice-bar")
        self.setAccessibleName("Notification")
        self.setStyleSheet("#notice-bar { background: #e3f0fb; border-bottom: 1px solid #9cc3e6; }")
        self.text = QLabel("", self)
        self.text.setWordWrap(True)
        self.open_button = QPushButton("Open", self)
        self.close_button = QPushButton("Dismiss", self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignRight)
        layout.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignRight)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SHOWN_MS)
        self._timer.timeout.connect(self.hide)
        self.open_button.clicked.connect(self._open)
        self.close_button.clicked.connect(self.hide)
        self.setVisible(False)

    def show_notice(self, title: str, message: str) -> None:
        self.text.setText(f"<b>{title}</b> · {message}")
        self.setVisible(True)
        self._timer.start()

    def _open(self) -> None:
        self.hide()
        self.open_clicked.emit()
