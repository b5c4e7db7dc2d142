"""Enumerations of the API contract."""

from enum import StrEnum


class UserType(StrEnum):
    patient = "patient"
    doctor = "doctor"
    admin = "admin"


class QuestionStatus(StrEnum):
    pending = "pending"
    answered = "answered"


class XRayType(StrEnum):
    chest = "chest"
    limb = "limb"
    spine = "spine"
    skull = "skull"
    dental = "dental"
    abdomen = "abdomen"
    pelvis = "pelvis"
    other = "other"


class AuditAction(StrEnum):
    read = "read"
    create = "create"
    update = "update"
    delete = "delete"
    login = "login"
    logout = "logout"


class AuditObjectType(StrEnum):
    user = "user"
    session = "session"
    question = "question"
    response = "response"
    xray = "xray"
    xray_image = "xray_image"
    xray_thumbnail = "xray_thumbnail"
    medical_history = "medical_history"


class AuditOutcome(StrEnum):
    ok = "ok"
    denied = "denied"
    error = "error"
