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


class ResultStatus(StrEnum):
    """none → preliminary (written, not signed) → final (signed) → amended (addenda)."""

    none = "none"
    preliminary = "preliminary"
    final = "final"
    amended = "amended"


SIGNED_STATUSES = frozenset({ResultStatus.final, ResultStatus.amended})


class EventType(StrEnum):
    question_created = "question.created"
    question_answered = "question.answered"
    question_claimed = "question.claimed"
    xray_created = "xray.created"
    xray_signed = "xray.signed"
    xray_amended = "xray.amended"
    history_changed = "history.changed"
    user_registered = "user.registered"
