"""What each role sees and may press, in one place (the server enforces the same rules; these
only keep the window from offering what would be refused)."""

from PySide6.QtWidgets import QWidget

from desktop.session import Session
from shared.enums import UserType
from shared.models import User


def is_staff(user: User) -> bool:
    """Doctors and admins: they read films with the window's numbers and overlays."""
    return user.usertype in (UserType.doctor, UserType.admin)


def writes_results(user: User) -> bool:
    """Results, marks and measurements are a clinician's: doctors only (not admins)."""
    return user.usertype == UserType.doctor


def deletes_records(user: User) -> bool:
    """Deleting (hiding for retention) x-rays and history entries: admins only."""
    return user.usertype == UserType.admin


def keeps_histories(user: User) -> bool:
    """Adding and editing medical history entries: doctors and admins."""
    return user.usertype in (UserType.doctor, UserType.admin)


def answers_questions(user: User) -> bool:
    """A doctor has a queue and conversations with patients."""
    return user.usertype == UserType.doctor


def awaits_approval(user: User) -> bool:
    """A doctor who registered and has not been approved by an admin yet."""
    return user.usertype == UserType.doctor and not user.is_active


def tabs_for(session: Session) -> list[tuple[str, QWidget]]:
    """(title, widget) for every tab of the user's role, in order."""
    # Imported here: the tabs use the rules above.
    from desktop.tabs import admin, audit, doctor, inbox, patient, worklist

    role = session.user.usertype
    if role == UserType.patient:
        return [
            ("Questions", patient.QuestionsTab(session)),
            ("X-rays", patient.XRaysTab(session)),
            ("Medical history", patient.HistoryTab(session)),
            ("Privacy", patient.PrivacyTab(session)),
        ]
    if role == UserType.doctor:
        return [
            ("Pending questions", doctor.PendingTab(session)),
            ("Films to read", worklist.WorklistTab(session)),
            ("Patients", doctor.PatientsTab(session)),
        ]
    return [
        ("Users", admin.UsersTab(session)),
        ("Records", admin.RecordsTab(session)),
        ("DICOM inbox", inbox.InboxTab(session)),
        ("Audit", audit.AuditTab(session)),
    ]
