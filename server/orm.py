"""ORM models: the tables of medsys. The schema itself is created by the Alembic migrations."""

from datetime import date, datetime

from sqlalchemy import (
    ColumnElement,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    TextClause,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, IdType, UTCDateTime, utcnow
from shared.enums import (
    SIGNED_STATUSES,
    AuditAction,
    AuditObjectType,
    AuditOutcome,
    EventType,
    QuestionStatus,
    ResultStatus,
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
    # The medical record number: given to a patient once, kept (reserved) if they stop being
    # one; an incoming DICOM file's PatientID is matched against it.
    record_number: Mapped[str | None] = mapped_column(String(64), unique=True)

    __table_args__ = (Index("ix_users_usertype_active", "usertype", "is_active", "id"),)

    @property
    def medical_record_number(self) -> str | None:
        return self.record_number if self.usertype == UserType.patient else None

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


# The questions of the doctors' queue.
PENDING_SQL = "status = 'pending'"

# The films of the worklist: no signed result yet, not deleted.
UNSIGNED_SQL = "result_status IN ('none', 'preliminary') AND deleted_at IS NULL"


class StoredInstance:
    """A stored image as a DICOM instance: its file, its UIDs (a PNG's or JPEG's made once at
    arrival) and what the file says of its patient (DICOM files only)."""

    content_type: Mapped[str] = mapped_column(String(64))
    width: Mapped[int]
    height: Mapped[int]
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    thumbnail_type: Mapped[str] = mapped_column(String(32))
    sop_instance_uid: Mapped[str] = mapped_column(String(64))
    study_instance_uid: Mapped[str] = mapped_column(String(64))
    series_instance_uid: Mapped[str] = mapped_column(String(64))
    sop_class_uid: Mapped[str] = mapped_column(String(64))
    study_date: Mapped[date | None]
    modality: Mapped[str | None] = mapped_column(String(16))
    file_patient_id: Mapped[str | None] = mapped_column(String(64))
    file_patient_name: Mapped[str | None] = mapped_column(String(324))
    file_birth_date: Mapped[str | None] = mapped_column(String(16))


class XRayRow(Timestamped, SoftDeleted, StoredInstance, Base):
    __tablename__ = "xrays"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    name_of_xray: Mapped[str] = mapped_column(String(200))
    description_of_xray: Mapped[str | None] = mapped_column(Text)
    result_of_xray: Mapped[str | None] = mapped_column(Text)
    type_of_xray: Mapped[XRayType] = mapped_column(_enum(XRayType, "type_of_xray"))
    # The result's lifecycle: the patient sees it (and its marks, its addenda) once signed.
    result_status: Mapped[ResultStatus] = mapped_column(
        _enum(ResultStatus, "result_status"), default=ResultStatus.none
    )
    result_signed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    result_signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    addenda: Mapped[list["AddendumRow"]] = relationship(
        lazy="raise_on_sql", order_by="AddendumRow.id"
    )
    result_signer: Mapped[UserRow | None] = relationship(
        foreign_keys=[result_signed_by_id], lazy="raise_on_sql"
    )
    patient: Mapped[UserRow] = relationship(foreign_keys=[user_id], lazy="raise_on_sql")

    __table_args__ = (
        Index("ix_xrays_user_id_id", "user_id", "id"),
        # An instance is stored once among the live films.
        Index(
            "ux_xrays_sop_instance_uid",
            "sop_instance_uid",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
        # The worklist: films whose result is not signed, oldest first, among a million.
        Index(
            "ix_xrays_unsigned_id",
            "id",
            sqlite_where=text(UNSIGNED_SQL),
            postgresql_where=text(UNSIGNED_SQL),
        ),
    )

    @classmethod
    def unsigned(cls) -> TextClause:
        """Films waiting for a signed result: the predicate of the worklist's partial index,
        as literal SQL (a planner proves a query may use a partial index only from literals,
        not from bound parameters)."""
        return text(f"({UNSIGNED_SQL})")  # parenthesised: safe beside other terms

    @property
    def result_final(self) -> bool:
        return self.result_status in SIGNED_STATUSES


class AddendumRow(Base):
    """An addition to a signed result: signed results are never edited, only added to."""

    __tablename__ = "xray_addenda"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    xray_id: Mapped[int] = mapped_column(ForeignKey("xrays.id", ondelete="RESTRICT"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[UserRow] = relationship(lazy="raise_on_sql")

    __table_args__ = (Index("ix_xray_addenda_xray_id_id", "xray_id", "id"),)

    @property
    def author_name(self) -> str:
        return self.author.full_name


class EventRow(Base):
    """The outbox of live events: written in the transaction of the change it announces, so
    an event exists exactly when its change committed. Who receives it is decided when it is
    sent, from these fields (see server/events/recipients.py)."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    type: Mapped[EventType] = mapped_column(_enum(EventType, "event_type"))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[int] = mapped_column(IdType)
    patient_id: Mapped[int | None] = mapped_column(IdType)
    # To whom: one doctor, every active doctor, the patient, every active admin.
    doctor_id: Mapped[int | None] = mapped_column(IdType)
    all_doctors: Mapped[bool] = mapped_column(default=False)
    to_patient: Mapped[bool] = mapped_column(default=False)
    to_admins: Mapped[bool] = mapped_column(default=False)


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

    @classmethod
    def pending(cls) -> TextClause:
        """The predicate of the queue's partial index, as literal SQL (a planner proves a query
        may use a partial index only from literals, not from bound parameters)."""
        return text(f"({PENDING_SQL})")

    __table_args__ = (
        Index("ix_questions_patient_id_id", "patient_id", "id"),
        Index("ix_questions_doctor_id_id", "doctor_id", "id"),
        # The doctors' queue: pending questions in id order, a page read without a sort.
        Index(
            "ix_questions_pending_id",
            "id",
            sqlite_where=text(PENDING_SQL),
            postgresql_where=text(PENDING_SQL),
        ),
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


class UnmatchedRow(StoredInstance, Base):
    """A DICOM instance whose PatientID matched no patient: it waits for an admin to assign
    it to a patient (it then becomes an x-ray) or to discard it."""

    __tablename__ = "unmatched_instances"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(200))  # "C-STORE from AE@address", "STOW-RS"
    body_part: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index("ux_unmatched_sop_instance_uid", "sop_instance_uid", unique=True),)
