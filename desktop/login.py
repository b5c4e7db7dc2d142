"""The login window and the "create account" dialog."""

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.api import ApiClient, ApiError
from desktop.config import Config
from desktop.operations import auth as auth_ops
from desktop.runner import AsyncRunner
from desktop.widgets.forms import clear_errors, error_label, set_message, show_error
from shared.models import LoginResponse, User


class RegisterDialog(QDialog):
    """Create a patient or doctor account (a doctor waits for an admin's approval)."""

    registered = Signal(object)

    def __init__(self, runner: AsyncRunner, server_url: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Create an account")
        self._runner = runner
        self._server_url = server_url
        self.name_edit = QLineEdit(self)
        self.email_edit = QLineEdit(self)
        self.phone_edit = QLineEdit(self)
        self.role_combo = QComboBox(self)
        self.role_combo.addItem("Patient", "patient")
        self.role_combo.addItem("Doctor (an administrator approves the account)", "doctor")
        self.password_edit = QLineEdit(self)
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat_edit = QLineEdit(self)
        self.repeat_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.errors = {
            name: error_label(self)
            for name in ("full_name", "email", "phone", "usertype", "password")
        }
        self.error = error_label(self)
        form = QFormLayout()
        for label, widget, field in (
            ("Full name", self.name_edit, "full_name"),
            ("Email", self.email_edit, "email"),
            ("Phone", self.phone_edit, "phone"),
            ("I am a", self.role_combo, "usertype"),
            ("Password", self.password_edit, "password"),
        ):
            form.addRow(label, widget)
            form.addRow("", self.errors[field])
        form.addRow("Repeat password", self.repeat_edit)
        self.buttons = QDialogButtonBox(self)
        self.create_button = self.buttons.addButton(
            "Create account", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def submit(self) -> None:
        clear_errors(self.error, self.errors)
        if self.password_edit.text() != self.repeat_edit.text():
            set_message(self.errors["password"], "The two passwords differ.")
            return
        self.create_button.setEnabled(False)
        task = auth_ops.register(
            self._runner,
            self._server_url,
            self.name_edit.text().strip(),
            self.email_edit.text().strip(),
            self.phone_edit.text().strip(),
            self.role_combo.currentData(),
            self.password_edit.text(),
        )
        task.succeeded.connect(self._registered)
        task.failed.connect(self._failed)

    def _registered(self, user: User) -> None:
        self.create_button.setEnabled(True)
        self.registered.emit(user)
        self.accept()

    def _failed(self, error: object) -> None:
        self.create_button.setEnabled(True)
        if isinstance(error, ApiError):
            show_error(error, self.error, self.errors)
        else:
            set_message(self.error, str(error))


class LoginWindow(QWidget):
    """Server address (remembered), email and password."""

    logged_in = Signal(object, object)  # ApiClient, LoginResponse

    def __init__(self, runner: AsyncRunner, config: Config) -> None:
        super().__init__()
        self.setWindowTitle("medsys — log in")
        self._runner = runner
        self._config = config
        self.server_edit = QLineEdit(config.server_url, self)
        self.email_edit = QLineEdit(config.last_email, self)
        self.password_edit = QLineEdit(self)
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.login_button = QPushButton("Log in", self)
        self.login_button.setDefault(True)
        self.create_button = QPushButton("Create account…", self)
        self.errors = {name: error_label(self) for name in ("server", "email", "password")}
        self.error = error_label(self)
        self.notice = QLabel("", self)
        self.notice.setWordWrap(True)
        self.notice.setVisible(False)
        title = QLabel("<h2>medsys</h2>Your practice: questions, x-rays and records.", self)
        form = QFormLayout()
        form.addRow("Server", self.server_edit)
        form.addRow("", self.errors["server"])
        form.addRow("Email", self.email_edit)
        form.addRow("", self.errors["email"])
        form.addRow("Password", self.password_edit)
        form.addRow("", self.errors["password"])
        buttons = QHBoxLayout()
        buttons.addWidget(self.create_button)
        buttons.addStretch(1)
        buttons.addWidget(self.login_button)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.notice)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self.setMinimumWidth(420)
        self.login_button.clicked.connect(self.log_in)
        for edit in (self.server_edit, self.email_edit, self.password_edit):
            edit.returnPressed.connect(self.log_in)
        self.create_button.clicked.connect(self.create_account)
        self.dialog: RegisterDialog | None = None
        (self.password_edit if self.email_edit.text() else self.email_edit).setFocus(
            Qt.FocusReason.OtherFocusReason
        )

    def show_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def log_in(self) -> None:
        if not self.login_button.isEnabled():
            return
        clear_errors(self.error, self.errors)
        server = self.server_edit.text().strip().rstrip("/")
        if not server.startswith(("http://", "https://")):
            set_message(
                self.errors["server"], "Give the address as http://host:port or https://host."
            )
            return
        email, password = self.email_edit.text().strip(), self.password_edit.text()
        self.login_button.setEnabled(False)
        self.login_button.setText("Logging in…")
        task = auth_ops.log_in(self._runner, server, email, password)
        task.succeeded.connect(
            lambda logged_in: self._succeeded(logged_in[0], logged_in[1], server, email)
        )
        task.failed.connect(self._failed)

    def _reset_button(self) -> None:
        self.login_button.setEnabled(True)
        self.login_button.setText("Log in")

    def _succeeded(self, api: ApiClient, answer: LoginResponse, server: str, email: str) -> None:
        self._reset_button()
        self._config.server_url = server
        self._config.last_email = email
        self.password_edit.clear()
        self.show_notice("")
        self.logged_in.emit(api, answer)

    def _failed(self, error: object) -> None:
        self._reset_button()
        if not isinstance(error, ApiError):
            set_message(self.error, str(error))
        elif error.status == 0:
            set_message(self.errors["server"], error.detail)
        elif error.status == 401:
            set_message(self.errors["password"], error.detail)
        else:
            show_error(
                error,
                self.error,
                {"email": self.errors["email"], "password": self.errors["password"]},
            )

    def create_account(self) -> None:
        self.dialog = RegisterDialog(
            self._runner, self.server_edit.text().strip().rstrip("/"), self
        )
        self.dialog.registered.connect(self._registered)
        self.dialog.open()

    def _registered(self, user: User) -> None:
        self.email_edit.setText(user.email)
        # The next empty field: the password of the account just made.
        self.password_edit.clear()
        self.password_edit.setFocus()
        if user.is_active:
            self.show_notice("Your account is ready: log in with your new password.")
        else:
            self.show_notice(
                "Your doctor account was created and waits for an administrator's approval. "
                "You can log in once it is approved."
            )
