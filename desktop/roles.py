"""Which tabs each role gets."""

from PySide6.QtWidgets import QWidget

from desktop.session import Session
from desktop.tabs import admin, doctor, patient
from shared.enums import UserType


def tabs_for(session: Session) -> list[tuple[str, QWidget]]:
    """(title, widget) for every tab of the user's role, in order."""
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
            ("Patients", doctor.PatientsTab(session)),
        ]
    return [
        ("Users", admin.UsersTab(session)),
        ("Records", admin.RecordsTab(session)),
        ("Audit", admin.AuditTab(session)),
    ]
