"""Every control of every role's window has a name assistive technology can read, and the
forms work by keyboard: Tab moves between fields, the cursor starts where the typing is."""

from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QDoubleSpinBox,
    QGraphicsView,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QTextEdit,
    QWidget,
)
from pytestqt.qtbot import QtBot

from desktop.app import DesktopApp
from desktop.tabs.patient import QuestionsTab
from server.seed import DEMO_PASSWORD
from tests.desktop.conftest import Server, log_in, settle

INTERACTIVE = (
    QAbstractButton,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QComboBox,
    QSpinBox,
    QDoubleSpinBox,
    QDateEdit,
    QAbstractItemView,
    QGraphicsView,
)


def unnamed(root: QWidget) -> list[str]:
    """The visible controls under `root` that a screen reader could not name."""
    missing = []
    for widget in root.findChildren(QWidget):
        if not isinstance(widget, INTERACTIVE) or isinstance(widget, QHeaderView):
            continue
        # Qt's own parts of a composite control (a spin box's editor, a toolbar's »).
        if widget.objectName().startswith("qt_") or not widget.isVisibleTo(root):
            continue
        interface = QAccessible.queryAccessibleInterface(widget)
        name = interface.text(QAccessible.Text.Name) if interface is not None else ""
        if not name.strip():
            missing.append(f"{type(widget).__name__} in {type(widget.parent()).__name__}")
    return missing


def test_every_control_of_every_role_has_a_name(
    qtbot: QtBot, desktop: DesktopApp, server: Server
) -> None:
    assert unnamed(desktop.login_window) == []
    for email in ("paula@medsys.example", "grace@medsys.example", "admin@medsys.example"):
        window = log_in(qtbot, desktop, email, DEMO_PASSWORD)
        for index in range(window.tabs.count()):
            window.tabs.setCurrentIndex(index)
            settle(qtbot, desktop)
            title = window.tabs.tabText(index)
            assert unnamed(window.tabs.widget(index)) == [], f"{email}: {title}"
        window.logout_action.trigger()
        qtbot.waitUntil(lambda: desktop.main_window is None)


def test_asking_is_done_by_keyboard(qtbot: QtBot, desktop: DesktopApp, server: Server) -> None:
    patient = server.new_user("patient")
    window = log_in(qtbot, desktop, patient.email)
    tab = window.tab("Questions")
    assert isinstance(tab, QuestionsTab)
    window.activateWindow()
    tab.new_button.click()
    form = tab.ask_form
    qtbot.waitUntil(form.text_edit.hasFocus)  # the cursor is where the typing goes
    qtbot.keyClicks(form.text_edit, "Is it broken?")
    qtbot.keyClick(form.text_edit, Qt.Key.Key_Tab)
    assert form.text_edit.toPlainText() == "Is it broken?"  # no tab typed into the question
    assert form.doctor_combo.hasFocus()
    assert "Ctrl+Enter" in form.send_button.text()
    form.text_edit.setFocus()
    qtbot.keyClick(form.text_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: form.status.text() == "Your question was sent.")


def test_after_creating_an_account_the_cursor_is_in_the_password(
    qtbot: QtBot, desktop: DesktopApp
) -> None:
    login = desktop.login_window
    login.create_account()
    dialog = login.dialog
    assert dialog is not None
    dialog.name_edit.setText("Keyboard Person")
    dialog.email_edit.setText("keyboard@desktop.example")
    dialog.phone_edit.setText("+1 555 3333")
    dialog.password_edit.setText("a long password")
    dialog.repeat_edit.setText("a long password")
    login.activateWindow()
    dialog.create_button.click()
    qtbot.waitUntil(lambda: "ready" in login.notice.text())
    assert login.email_edit.text() == "keyboard@desktop.example"
    qtbot.waitUntil(login.password_edit.hasFocus)
