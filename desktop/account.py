"""The Account menu's dialogs: my profile, my password, preferences."""

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from desktop.config import Config
from desktop.http import ApiError
from desktop.operations import profile as profile_ops
from desktop.session import Session
from desktop.widgets.forms import clear_errors, error_label, set_message, show_error
from shared.models import User


def _buttons(dialog: QDialog, ok_text: str) -> QDialogButtonBox:
    buttons = QDialogButtonBox(dialog)
    ok = buttons.addButton(ok_text, QDialogButtonBox.ButtonRole.AcceptRole)
    ok.setDefault(True)
    buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
    buttons.rejected.connect(dialog.reject)
    return buttons


class PreferencesDialog(QDialog):
    """How soon this computer logs off after inactivity: sooner than the practice's limit if
    the user likes, never later."""

    def __init__(self, config: Config, limit_minutes: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("preferences")
        self.setWindowTitle("Preferences")
        self._config = config
        self.idle_spin = QSpinBox(self)
        self.idle_spin.setAccessibleName("Minutes without activity before the log-off")
        self.idle_spin.setRange(1, max(1, int(limit_minutes)))
        self.idle_spin.setSuffix(" minutes")
        self.idle_spin.setValue(max(1, min(round(config.idle_minutes), int(limit_minutes))))
        note = QLabel(f"The practice logs everyone off after {limit_minutes:g} minutes at most.")
        note.setWordWrap(True)
        self.notifications_check = QCheckBox(
            "Tell me of new answers, results, questions and films while medsys is not in front",
            self,
        )
        self.notifications_check.setChecked(config.notifications)
        buttons = _buttons(self, "Save")
        buttons.accepted.connect(self.accept)
        form = QFormLayout(self)
        form.addRow("Log off after inactivity of", self.idle_spin)
        form.addRow(note)
        form.addRow(self.notifications_check)
        form.addRow(buttons)

    def accept(self) -> None:
        self._config.idle_minutes = self.idle_spin.value()
        self._config.notifications = self.notifications_check.isChecked()
        super().accept()


class ProfileDialog(QDialog):
    """My name and phone, as the server has them; saving sends only what changed."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("profile")
        self.setWindowTitle("My profile")
        self._session = session
        self.user: User = session.user
        self.name_edit = QLineEdit(self)
        self.name_edit.setAccessibleName("Full name")
        self.phone_edit = QLineEdit(self)
        self.phone_edit.setAccessibleName("Phone")
        self.email_label = QLabel(self)
        self.errors = {"full_name": error_label(self), "phone": error_label(self)}
        self.error = error_label(self)
        self.status = QLabel("", self)
        self.buttons = _buttons(self, "Save")
        self.buttons.accepted.connect(self.save)
        form = QFormLayout(self)
        form.addRow("Full name", self.name_edit)
        form.addRow("", self.errors["full_name"])
        form.addRow("Phone", self.phone_edit)
        form.addRow("", self.errors["phone"])
        form.addRow("Email", self.email_label)
        form.addRow(self.error)
        form.addRow(self.status)
        form.addRow(self.buttons)
        self._show(session.user)
        profile_ops.load(session, self._show, lambda error: show_error(error, self.error))

    def _show(self, user: User) -> None:
        self.user = user
        self.name_edit.setText(user.full_name)
        self.phone_edit.setText(user.phone or "")
        self.email_label.setText(f"{user.email} (an administrator changes it)")

    def save(self) -> None:
        changes: dict[str, str | None] = {}
        name, phone = self.name_edit.text().strip(), self.phone_edit.text().strip() or None
        if name != self.user.full_name:
            changes["full_name"] = name
        if phone != self.user.phone:
            changes["phone"] = phone
        if not changes:
            self.accept()
            return
        clear_errors(self.error, self.errors)
        profile_ops.update(self._session, changes, self._saved, self._failed)

    def _saved(self, user: User) -> None:
        self._session.user = user
        self._session.names[user.id] = user.full_name
        self._show(user)
        self.accept()

    def _failed(self, error: ApiError) -> None:
        show_error(error, self.error, self.errors)


class PasswordDialog(QDialog):
    """Change my password; my other sessions (other computers) end."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("password")
        self.setWindowTitle("Change my password")
        self._session = session
        self.current_edit, self.new_edit, self.repeat_edit = (
            QLineEdit(self),
            QLineEdit(self),
            QLineEdit(self),
        )
        for edit, name in (
            (self.current_edit, "Current password"),
            (self.new_edit, "New password"),
            (self.repeat_edit, "New password again"),
        ):
            edit.setEchoMode(QLineEdit.EchoMode.Password)
            edit.setAccessibleName(name)
        self.errors = {"current_password": error_label(self), "new_password": error_label(self)}
        self.error = error_label(self)
        self.buttons = _buttons(self, "Change password")
        self.buttons.accepted.connect(self.save)
        form = QFormLayout(self)
        form.addRow("Current password", self.current_edit)
        form.addRow("", self.errors["current_password"])
        form.addRow("New password", self.new_edit)
        form.addRow("", self.errors["new_password"])
        form.addRow("New password again", self.repeat_edit)
        form.addRow(self.error)
        form.addRow(self.buttons)
        self.changed = False

    def save(self) -> None:
        clear_errors(self.error, self.errors)
        if self.new_edit.text() != self.repeat_edit.text():
            set_message(self.errors["new_password"], "The two new passwords differ.")
            return
        profile_ops.change_password(
            self._session,
            self.current_edit.text(),
            self.new_edit.text(),
            self._changed,
            lambda error: show_error(error, self.error, self.errors),
        )

    def _changed(self, _result: object) -> None:
        self.changed = True
        self.accept()
