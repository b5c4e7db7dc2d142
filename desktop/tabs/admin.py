"""The admin console's tabs: users, records, audit."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop.http import ApiError
from desktop.live import Follower
from desktop.models.paged import Column, PagedTableModel
from desktop.operations import people as people_ops
from desktop.roles import awaits_approval
from desktop.session import Session
from desktop.widgets.confirm import confirm
from desktop.widgets.forms import clear_errors, error_label, show_error
from desktop.widgets.lazy import when_first_shown
from desktop.widgets.patients import PatientRecordsTab
from desktop.widgets.tables import ListPanel
from shared.enums import EventType, UserType
from shared.models import User

USER_COLUMNS = [
    Column[User]("Name", lambda u: u.full_name),
    Column[User]("Email", lambda u: u.email),
    Column[User]("Phone", lambda u: u.phone),
    Column[User]("Role", lambda u: u.usertype.value),
    Column[User]("State", lambda u: u.status.replace("_", " ")),
    Column[User]("Created", lambda u: u.created_at),
]


class UserForm(QGroupBox):
    """Create a user, or edit the selected one (name, phone, role, active)."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__("Account", parent)
        self._session = session
        self.user: User | None = None
        self.name_edit = QLineEdit(self)
        self.email_edit = QLineEdit(self)
        self.phone_edit = QLineEdit(self)
        self.role_combo = QComboBox(self)
        for role in UserType:
            self.role_combo.addItem(role.value.title(), role.value)
        self.active_check = QCheckBox("Active (may log in)", self)
        self.password_edit = QLineEdit(self)
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setPlaceholderText("At least 8 characters (new accounts)")
        self.errors = {
            name: error_label(self)
            for name in ("full_name", "email", "phone", "usertype", "password")
        }
        self.error = error_label(self)
        self.status = QLabel("", self)
        self.create_button = QPushButton("Create user", self)
        self.save_button = QPushButton("Save changes", self)
        self.new_button = QPushButton("New", self)
        form = QFormLayout(self)
        for label, widget, field in (
            ("Full name", self.name_edit, "full_name"),
            ("Email", self.email_edit, "email"),
            ("Phone", self.phone_edit, "phone"),
            ("Role", self.role_combo, "usertype"),
            ("Password", self.password_edit, "password"),
        ):
            form.addRow(label, widget)
            form.addRow("", self.errors[field])
        form.addRow("", self.active_check)
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_button)
        buttons.addStretch(1)
        buttons.addWidget(self.create_button)
        buttons.addWidget(self.save_button)
        form.addRow(buttons)
        form.addRow(self.error)
        form.addRow(self.status)
        self.new_button.clicked.connect(lambda: self.edit(None))
        self.edit(None)

    def edit(self, user: User | None) -> None:
        self.user = user
        clear_errors(self.error, self.errors)
        self.status.setText("")
        self.name_edit.setText(user.full_name if user else "")
        self.email_edit.setText(user.email if user else "")
        self.email_edit.setReadOnly(user is not None)  # an email is not changed once given
        self.phone_edit.setText(user.phone or "" if user else "")
        self.role_combo.setCurrentIndex(
            self.role_combo.findData(user.usertype.value if user else "patient")
        )
        self.active_check.setChecked(user.is_active if user else True)
        self.active_check.setEnabled(user is not None)
        self.password_edit.clear()
        self.password_edit.setEnabled(user is None)
        self.create_button.setVisible(user is None)
        self.save_button.setVisible(user is not None)

    def failed(self, error: ApiError) -> None:
        show_error(error, self.error, self.errors)


class UsersTab(QWidget):
    """All accounts: filter by role and state, approve waiting doctors, create, edit, deactivate."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self._session = session
        self.model = PagedTableModel[User](session.submit, USER_COLUMNS, self)
        self.list = ListPanel(self.model, "Filter the loaded users…", self)
        registered = [EventType.user_registered]
        Follower(session.live, registered, lambda _event: self.model.refresh(), self)
        self.search_edit = QLineEdit(self)
        self.search_edit.setPlaceholderText("Search name, email, phone…")
        self.search_edit.setAccessibleName("Search accounts")
        self.search_edit.returnPressed.connect(self.reload)
        self.role_combo = QComboBox(self)
        self.role_combo.addItem("Every role", None)
        for role in UserType:
            self.role_combo.addItem(role.value.title() + "s", role.value)
        self.state_combo = QComboBox(self)
        for label, state in (
            ("Active and inactive", None),
            ("Active", True),
            ("Inactive / waiting", False),
        ):
            self.state_combo.addItem(label, state)
        self.role_combo.currentIndexChanged.connect(self.reload)
        self.state_combo.currentIndexChanged.connect(self.reload)
        for widget in (self.search_edit, self.role_combo, self.state_combo):
            self.list.header.addWidget(widget)
        self.form = UserForm(session, self)
        self.approve_button = QPushButton("Approve doctor", self)
        self.reactivate_button = QPushButton("Reactivate", self)
        self.deactivate_button = QPushButton("Deactivate…", self)
        actions = QHBoxLayout()
        actions.addWidget(self.approve_button)
        actions.addWidget(self.reactivate_button)
        actions.addWidget(self.deactivate_button)
        actions.addStretch(1)
        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(self.list, 1)
        left_layout.addLayout(actions)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(left)
        splitter.addWidget(self.form)
        splitter.setStretchFactor(0, 3)
        QVBoxLayout(self).addWidget(splitter)
        self._changed_user: User | None = None
        self.list.selected.connect(self._selected)
        self.approve_button.clicked.connect(self.approve)
        self.reactivate_button.clicked.connect(self.approve)
        self.deactivate_button.clicked.connect(self.deactivate)
        self.form.create_button.clicked.connect(self.create_user)
        self.form.save_button.clicked.connect(self.save)
        self._selected(None)
        when_first_shown(self, self.reload)

    def reload(self) -> None:
        role, state, text = (
            self.role_combo.currentData(),
            self.state_combo.currentData(),
            self.search_edit.text(),
        )
        self.model.set_fetcher(people_ops.users(self._session, role, state, text.strip()))

    def _selected(self, user: User | None) -> None:
        # The list reloads after a change and may no longer hold the account (another state
        # filter): the form keeps showing it, so the next action applies to what is shown.
        if user is None and self._changed_user is not None:
            return
        self._changed_user = None
        self.form.edit(user)
        self._update_actions(user)

    def _update_actions(self, user: User | None) -> None:
        status = user.status if user is not None else None
        self.approve_button.setEnabled(user is not None and awaits_approval(user))
        self.reactivate_button.setEnabled(status == "deactivated")
        self.deactivate_button.setEnabled(status == "active")

    def _changed(self, user: User, message: str) -> None:
        """Show the account as the server now has it (never the form's stale copy)."""
        self.form.edit(user)
        self.form.status.setText(message)
        self._update_actions(user)
        self._changed_user = user
        self.reload()

    def approve(self) -> None:
        user = self.form.user  # the account shown in the form
        if user is None:
            return

        people_ops.update(
            self._session,
            user.id,
            {"is_active": True},
            lambda u: self._changed(u, f"{u.full_name} may now log in."),
            self.form.failed,
        )

    def create_user(self) -> None:
        form = self.form

        def created(user: User) -> None:
            self._changed(user, f"Created {user.usertype.value} {user.email}.")

        people_ops.create(
            self._session,
            form.name_edit.text().strip(),
            form.email_edit.text().strip(),
            form.phone_edit.text().strip(),
            UserType(form.role_combo.currentData()),
            form.password_edit.text(),
            created,
            form.failed,
        )

    def save(self) -> None:
        form, user = self.form, self.form.user
        if user is None:
            return
        edited: dict[str, object] = {
            "full_name": form.name_edit.text().strip(),
            "phone": form.phone_edit.text().strip() or None,
            "usertype": UserType(form.role_combo.currentData()),
            "is_active": form.active_check.isChecked(),
        }
        # Only what the admin changed: a field left alone never undoes someone else's change.
        changes = {name: value for name, value in edited.items() if getattr(user, name) != value}
        if not changes:
            form.status.setText("Nothing to save: no field was changed.")
            return
        people_ops.update(
            self._session,
            user.id,
            changes,
            lambda u: self._changed(u, f"Saved {u.full_name}."),
            form.failed,
        )

    def deactivate(self) -> None:
        user = self.form.user  # the account shown in the form
        if user is None:
            return

        confirm(
            self,
            "Deactivate account",
            f"Deactivate {user.full_name} ({user.email})? They are logged out at once; "
            "their records are kept.",
            lambda: people_ops.update(
                self._session,
                user.id,
                {"is_active": False},
                lambda u: self._changed(u, f"Deactivated {u.full_name}."),
                self.form.failed,
            ),
            yes_text="Deactivate",
        )


class RecordsTab(PatientRecordsTab):
    """Pick a patient; see and manage their medical history and x-rays."""
