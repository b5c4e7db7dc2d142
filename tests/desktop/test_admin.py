"""The admin console: users, approvals, the last admin, records and the audit trail."""

import csv
from pathlib import Path

from PySide6.QtCore import QDate, Qt
from pytestqt.qtbot import QtBot

from desktop.app import DesktopApp
from desktop.tabs.admin import RecordsTab, UsersTab
from desktop.tabs.audit import AuditTab
from server.demo_images import radiograph_pixels, write_png
from server.seed import DEMO_PASSWORD
from shared.models import AdminUserUpdate
from tests.desktop.conftest import (
    PASSWORD,
    Server,
    click_confirm,
    column_texts,
    log_in,
    open_chart,
    settle,
)
from tests.desktop.meanwhile import add_history, register, upload


def users_tab(qtbot: QtBot, desktop: DesktopApp, email: str, password: str) -> UsersTab:
    window = log_in(qtbot, desktop, email, password)
    tab = window.tab("Users")
    assert isinstance(tab, UsersTab)
    return tab


def test_approve_create_edit_and_deactivate(
    qtbot: QtBot, desktop: DesktopApp, server: Server
) -> None:
    admin = server.new_user("admin")
    waiting = server.call(
        admin.email,
        lambda api: register(
            api, "Dr. Waiting Approval", "waiting@desktop.example", "+1", "doctor", PASSWORD
        ),
    )
    tab = users_tab(qtbot, desktop, admin.email, PASSWORD)
    tab.role_combo.setCurrentIndex(tab.role_combo.findData("doctor"))
    tab.state_combo.setCurrentIndex(tab.state_combo.findData(False))
    qtbot.waitUntil(lambda: "Dr. Waiting Approval" in column_texts(tab.model, 0))
    tab.list.select_row(column_texts(tab.model, 0).index("Dr. Waiting Approval"))
    assert tab.approve_button.isEnabled()
    tab.approve_button.click()
    qtbot.waitUntil(lambda: "may now log in" in tab.form.status.text())
    assert server.call(waiting.email, lambda api: api.profile()).is_active
    # The form shows the account as the server now has it: Save right away changes nothing
    # (it deactivated the doctor again when the form kept its stale "inactive").
    assert tab.form.active_check.isChecked()
    tab.form.save_button.click()
    assert tab.form.status.text() == "Nothing to save: no field was changed."
    settle(qtbot, desktop)
    assert server.call(waiting.email, lambda api: api.profile()).is_active

    tab.form.new_button.click()
    form = tab.form
    form.name_edit.setText("Nora Nurse-Admin")
    form.email_edit.setText("nora@desktop.example")
    form.phone_edit.setText("+1 555 4444")
    form.role_combo.setCurrentIndex(form.role_combo.findData("admin"))
    form.password_edit.setText("short")
    form.create_button.click()
    qtbot.waitUntil(form.errors["password"].isVisible)
    form.password_edit.setText("long enough now")
    form.create_button.click()
    qtbot.waitUntil(lambda: "Created admin nora@desktop.example" in form.status.text())
    assert (
        server.call("nora@desktop.example", lambda api: api.profile(), "long enough now").usertype
        == "admin"
    )

    tab.role_combo.setCurrentIndex(tab.role_combo.findData("admin"))
    tab.state_combo.setCurrentIndex(tab.state_combo.findData(True))
    qtbot.waitUntil(lambda: "Nora Nurse-Admin" in column_texts(tab.model, 0))
    tab.list.select_row(column_texts(tab.model, 0).index("Nora Nurse-Admin"))
    form.phone_edit.setText("+1 555 5555")
    form.save_button.click()
    qtbot.waitUntil(lambda: form.status.text() == "Saved Nora Nurse-Admin.")
    qtbot.waitUntil(lambda: "Nora Nurse-Admin" in column_texts(tab.model, 0))  # reloaded
    tab.list.select_row(column_texts(tab.model, 0).index("Nora Nurse-Admin"))
    tab.deactivate_button.click()
    click_confirm(qtbot, tab, "Deactivate")
    qtbot.waitUntil(lambda: "Deactivated Nora" in form.status.text())
    assert not server.as_admin(lambda api: api.users("admin", None, "nora")).items[0].is_active
    assert not form.active_check.isChecked()
    assert tab.reactivate_button.isEnabled()
    assert not tab.approve_button.isEnabled()  # a closed account is not a doctor to approve
    tab.reactivate_button.click()
    qtbot.waitUntil(lambda: "Nora Nurse-Admin may now log in" in form.status.text())
    assert server.as_admin(lambda api: api.users("admin", None, "nora")).items[0].is_active


def test_the_last_admin_cannot_be_removed(
    qtbot: QtBot, desktop: DesktopApp, server: Server
) -> None:
    others = server.as_admin(lambda api: api.users("admin", True, ""))
    for other in others.items:
        if other.email != "admin@medsys.example":
            server.as_admin(lambda api, other=other: api.deactivate_user(other.id))
    tab = users_tab(qtbot, desktop, "admin@medsys.example", DEMO_PASSWORD)
    tab.role_combo.setCurrentIndex(tab.role_combo.findData("admin"))
    tab.state_combo.setCurrentIndex(tab.state_combo.findData(True))
    qtbot.waitUntil(lambda: column_texts(tab.model, 1) == ["admin@medsys.example"])
    tab.list.select_row(0)
    tab.deactivate_button.click()
    click_confirm(qtbot, tab, "Deactivate")
    qtbot.waitUntil(tab.form.error.isVisible)
    assert "last active administrator" in tab.form.error.text()


def test_records_delete_with_confirmation(
    qtbot: QtBot, desktop: DesktopApp, server: Server, tmp_path: Path
) -> None:
    admin = server.new_user("admin")
    doctor = server.new_user("doctor")
    patient = server.new_user("patient", "Records Person")
    image = tmp_path / "film.png"
    write_png(image, radiograph_pixels(120, 100))
    server.call(
        patient.email,
        lambda api: upload(api, image, "Film", "other"),
    )
    server.call(doctor.email, lambda api: add_history(api, patient.id, "Fracture", None))

    window = log_in(qtbot, desktop, admin.email)
    tab = window.tab("Records")
    assert isinstance(tab, RecordsTab)
    open_chart(qtbot, desktop, tab, "Records Person")
    chart = tab.chart
    chart.setCurrentIndex(1)
    qtbot.waitUntil(lambda: chart.history.model.rowCount() == 1)
    chart.history.list.select_row(0)
    chart.history.delete_button.click()
    click_confirm(qtbot, chart.history, "Cancel")
    assert chart.history.model.rowCount() == 1
    chart.history.delete_button.click()
    click_confirm(qtbot, chart.history, "Delete")
    qtbot.waitUntil(
        lambda: chart.history.model.rowCount() == 0 and not chart.history.model.is_loading
    )
    assert server.call(patient.email, lambda api: api.histories(patient.id)).items == []

    chart.setCurrentIndex(0)
    assert not chart.delete_xray_button.isEnabled()  # nothing selected: nothing to delete
    chart.gallery.view.setCurrentIndex(chart.gallery.model.index(0, 0))
    assert chart.delete_xray_button.isEnabled()
    chart.delete_xray_button.click()
    click_confirm(qtbot, chart, "Delete")
    qtbot.waitUntil(
        lambda: chart.gallery.model.rowCount() == 0 and not chart.gallery.model.is_loading
    )
    assert server.call(patient.email, lambda api: api.xrays(patient.id)).items == []
    assert not chart.delete_xray_button.isEnabled()


def test_audit_trail_reads_in_words_filters_by_name_and_date_and_exports(
    qtbot: QtBot, desktop: DesktopApp, server: Server, tmp_path: Path
) -> None:
    admin = server.new_user("admin", "Audit Reader")
    waiting = server.call(
        admin.email,
        lambda api: register(
            api, "Dr. Henry Audited", "henry.audited@desktop.example", "+1", "doctor", PASSWORD
        ),
    )
    server.as_admin(lambda api: api.update_user(waiting.id, AdminUserUpdate(is_active=True)))
    window = log_in(qtbot, desktop, admin.email)
    tab = window.tab("Audit")
    assert isinstance(tab, AuditTab)
    settle(qtbot, desktop)
    assert tab.model.rowCount() > 0
    # An approval is named as one.
    assert "approved the account “Dr. Henry Audited”" in column_texts(tab.model, 2)

    tab.action_combo.setCurrentIndex(tab.action_combo.findData("login"))
    qtbot.waitUntil(
        lambda: tab.model.rowCount() > 0 and set(column_texts(tab.model, 2)) == {"logged in"}
    )
    qtbot.keyClicks(tab.actor_edit, "Audit Reader")
    qtbot.keyClick(tab.actor_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: set(column_texts(tab.model, 1)) == {"Audit Reader (admin)"})
    # A name several people share is not guessed at.
    tab.actor_edit.setText("Patient")
    tab.apply_button.click()
    qtbot.waitUntil(tab.error.isVisible)
    assert "people match “Patient”" in tab.error.text()

    # A range of days in the past holds none of today's events.
    tab.actor_edit.clear()
    tab.dates_check.setChecked(True)
    tab.since_edit.setDate(QDate(2020, 1, 1))
    tab.until_edit.setDate(QDate(2020, 12, 31))
    tab.apply_button.click()
    qtbot.waitUntil(lambda: not tab.model.is_loading and tab.model.rowCount() == 0)

    tab.dates_check.setChecked(False)
    tab.apply_button.click()
    settle(qtbot, desktop)
    target = tmp_path / "audit.csv"
    tab.export_to(target)
    qtbot.waitUntil(lambda: tab.status.text().startswith("Exported"))
    with target.open(encoding="utf-8") as exported:
        rows = list(csv.reader(exported))
    assert rows[0][:4] == ["when", "who", "role", "what"]
    assert len(rows) > 1
    assert all(row[3] == "logged in" for row in rows[1:])


def test_an_admin_who_only_reads_the_audit_leaves_nothing_in_a_patients_access_log(
    qtbot: QtBot, desktop: DesktopApp, server: Server
) -> None:
    patient = server.new_user("patient", "Private Patient")
    admin = server.new_user("admin", "Quiet Admin")
    desktop.config.set_last_tab("admin", "Audit")
    window = log_in(qtbot, desktop, admin.email)
    tab = window.tab("Audit")
    assert isinstance(tab, AuditTab)
    settle(qtbot, desktop)
    # The trail names people without the console reading their accounts.
    assert "Quiet Admin (admin)" in column_texts(tab.model, 1)
    log = server.call(patient.email, lambda api: api.access_log())
    assert [event for event in log.items if event.actor_id == admin.id] == []
    # Opening the Users tab is looking at accounts: that is in the log, as it should be.
    window.tab("Users")
    settle(qtbot, desktop)
    log = server.call(patient.email, lambda api: api.access_log())
    assert {(event.actor_name, event.action.value) for event in log.items} >= {
        ("Quiet Admin", "read")
    }


def test_opening_a_chart_leaves_no_refusal_in_the_patients_log(
    qtbot: QtBot, desktop: DesktopApp, server: Server
) -> None:
    admin = server.new_user("admin")
    patient = server.new_user("patient", "Unrefused Person")
    window = log_in(qtbot, desktop, admin.email)
    tab = window.tab("Records")
    assert isinstance(tab, RecordsTab)
    open_chart(qtbot, desktop, tab, "Unrefused Person")
    settle(qtbot, desktop)
    log = server.call(patient.email, lambda api: api.access_log())
    assert [event.outcome.value for event in log.items if event.actor_id == admin.id] != []
    assert {event.outcome.value for event in log.items} == {"ok"}
