"""ORM models: the tables of medsys. The schema itself is created by the Alembic migrations."""

from datetime import datetime

from sqlalchemy import ColumnElement, Enum, ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, IdType, UTCDateTime, utcnow
from shared.enums import (
    AuditAction,
    AuditObjectType,
    AuditOutcome,
    QuestionStatus,
    UserType,
    XRayType,
)


def _enum(enum_class: type, name: str) -> Enum:
    # VARCHAR plus a CHECK constraint: the same on SQLite and PostgreSQL, easy to extend.
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [member.value for member in members],
    )


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SoftDeleted:
    """A record that is hidden, not removed, when deleted (kept for retention)."""

    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @classmethod
    def live(cls) -> ColumnElement[bool]:
        """The WHERE clause of every list and read: not deleted."""
        return cls.deleted_at.is_(None)

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class UserRow(Timestamped, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    # The lower-cased email: uniqueness and login compare case-insensitively.
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(String(50))
    usertype: Mapped[UserType] = mapped_column(_enum(UserType, "usertype"))
    is_active: Mapped[bool]
    password_hash: Mapped[str] = mapped_column(String(255))
    # When an admin closed the account (null: open, or a doctor never approved yet).
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_users_usertype_active", "usertype", "is_active", "id"),)

    @property
    def status(self) -> str:
        """active, awaiting_approval (a registered doctor) or deactivated (by an admin)."""
        if self.is_active:
            return "active"
        if self.deactivated_at is None and self.usertype == UserType.doctor:
            return "awaiting_approval"
        return "deactivated"


class SessionRow(Base):
    """A login session; the token's `jti` names it, so it can be revoked server-side."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginFailureRow(Base):
    """One failed login; counted per email and per client address for throttling."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    email_key: Mapped[str] = mapped_column(String(320))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_login_failures_email_at", "email_key", "at"),
        Index("ix_login_failures_ip_at", "ip", "at"),
    )


class XRayRow(Timestamped, SoftDeleted, Base):
    __tablename__ = "xrays"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    name_of_xray: Mapped[str] = mapped_column(String(200))
    description_of_xray: Mapped[str | None] = mapped_column(Text)
    result_of_xray: Mapped[str | None] = mapped_column(Text)
    type_of_xray: Mapped[XRayType] = mapped_column(_enum(XRayType, "type_of_xray"))
    content_type: Mapped[str] = mapped_column(String(64))
    width: Mapped[int]
    height: Mapped[int]
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    thumbnail_type: Mapped[str] = mapped_column(String(32))
    # The patient sees the result only once the doctor has marked it final.
    result_final: Mapped[bool] = mapped_column(default=False, server_default=false())

    __table_args__ = (Index("ix_xrays_user_id_id", "user_id", "id"),)


class XRayAnnotationsRow(Base):
    """The measurements and marks on one x-ray (one document per x-ray, replaced on save)."""

    __tablename__ = "xray_annotations"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    xray_id: Mapped[int] = mapped_column(ForeignKey("xrays.id", ondelete="RESTRICT"), unique=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    # JSON text: a list of {kind, points, label}, validated by the shared model on the way in.
    document: Mapped[str] = mapped_column(Text)
    calibration_mm_per_pixel: Mapped[float | None]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class QuestionRow(Timestamped, Base):
    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    xray_id: Mapped[int | None] = mapped_column(ForeignKey("xrays.id", ondelete="RESTRICT"))
    question_text: Mapped[str] = mapped_column(Text)
    status: Mapped[QuestionStatus] = mapped_column(_enum(QuestionStatus, "question_status"))

    responses: Mapped[list["ResponseRow"]] = relationship(
        lazy="raise_on_sql", order_by="ResponseRow.id"
    )
    patient: Mapped[UserRow] = relationship(foreign_keys=[patient_id], lazy="raise_on_sql")
    doctor: Mapped[UserRow | None] = relationship(foreign_keys=[doctor_id], lazy="raise_on_sql")

    @property
    def patient_name(self) -> str:
        return self.patient.full_name

    @property
    def doctor_name(self) -> str | None:
        return self.doctor.full_name if self.doctor is not None else None

    __table_args__ = (
        Index("ix_questions_patient_id_id", "patient_id", "id"),
        Index("ix_questions_doctor_id_id", "doctor_id", "id"),
        Index("ix_questions_status_doctor_id_id", "status", "doctor_id", "id"),
    )


class ResponseRow(Timestamped, Base):
    __tablename__ = "responses"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="RESTRICT"))
    doctor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    response_text: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_responses_question_id_id", "question_id", "id"),)


class MedicalHistoryRow(Timestamped, SoftDeleted, Base):
    __tablename__ = "medical_histories"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    name_of_surgery: Mapped[str] = mapped_column(String(200))
    description_of_surgery: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_medical_histories_user_id_id", "user_id", "id"),)


class AuditEventRow(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # No foreign keys here: the trail must outlive anything it mentions and never block a write.
    actor_id: Mapped[int | None] = mapped_column(IdType)
    action: Mapped[AuditAction] = mapped_column(_enum(AuditAction, "audit_action"))
    object_type: Mapped[AuditObjectType] = mapped_column(
        _enum(AuditObjectType, "audit_object_type")
    )
    object_id: Mapped[int | None] = mapped_column(IdType)
    patient_id: Mapped[int | None] = mapped_column(IdType)
    outcome: Mapped[AuditOutcome] = mapped_column(_enum(AuditOutcome, "audit_outcome"))
    ip: Mapped[str | None] = mapped_column(String(64))
    # What a change was, in words, where the action alone does not say ("approved").
    detail: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        Index("ix_audit_events_actor_id_id", "actor_id", "id"),
        Index("ix_audit_events_patient_id_id", "patient_id", "id"),
        Index("ix_audit_events_action_id", "action", "id"),
    )
