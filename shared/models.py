"""Request and response bodies of the medsys API (see docs/api.md)."""

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, model_validator

from shared.base import (
    Email,
    FullName,
    LongText,
    NotNull,
    Password,
    Phone,
    RequestModel,
    ResponseModel,
    Title,
)
from shared.enums import (
    AuditAction,
    AuditObjectType,
    AuditOutcome,
    QuestionStatus,
    ResultStatus,
    UserType,
    XRayType,
)

# --- users and sessions ---------------------------------------------------------------


class User(ResponseModel):
    id: int
    full_name: str
    email: str
    phone: str | None
    usertype: UserType
    is_active: bool
    created_at: datetime
    updated_at: datetime
    # medsys extension: why an account is not active (a doctor awaiting approval, or closed)
    status: Literal["active", "awaiting_approval", "deactivated"] = "active"
    # A patient's medical record number (null for staff): what DICOM files carry as PatientID.
    medical_record_number: str | None = None


class RegisterRequest(RequestModel):
    full_name: FullName
    email: Email
    phone: Phone
    # "admin" is refused: nobody registers themselves as an admin.
    usertype: Literal["patient", "doctor"]
    password: Password


class AdminUserCreate(RequestModel):
    full_name: FullName
    email: Email
    phone: Phone
    usertype: UserType
    password: Password


class UserEnvelope(ResponseModel):
    user: User


class LoginRequest(RequestModel):
    email: Annotated[str, Field(min_length=1, max_length=320)]
    # Not a Password: a login must not reveal the password rules, only right or wrong.
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class LoginResponse(ResponseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    user: User
    # medsys extension: the practice's idle limit (MEDSYS_IDLE_TIMEOUT, seconds). A client logs
    # off sooner if its user asks, never later.
    idle_timeout: int | None = None


class ProfileUpdate(RequestModel):
    full_name: Annotated[FullName | None, NotNull] = None
    phone: Phone | None = None


class PasswordChange(RequestModel):
    current_password: Annotated[str, Field(min_length=1, max_length=1024)]
    new_password: Password


class AdminUserUpdate(RequestModel):
    full_name: Annotated[FullName | None, NotNull] = None
    phone: Phone | None = None
    usertype: Annotated[UserType | None, NotNull] = None
    is_active: Annotated[bool | None, NotNull] = None


class DoctorSummary(ResponseModel):
    id: int
    full_name: str


# --- questions ------------------------------------------------------------------------


class Response(ResponseModel):
    id: int
    question_id: int
    doctor_id: int
    response_text: str
    created_at: datetime
    updated_at: datetime


class Question(ResponseModel):
    id: int
    patient_id: int
    doctor_id: int | None
    xray_id: int | None
    question_text: str
    status: QuestionStatus
    created_at: datetime
    updated_at: datetime
    responses: list[Response] = Field(default_factory=list)
    # medsys extension: the names, so that a doctor's queue reads as people, not ids.
    patient_name: str | None = None
    doctor_name: str | None = None


class QuestionCreate(RequestModel):
    question_text: Annotated[str, Field(min_length=1, max_length=5000)]
    doctor_id: int | None = None
    xray_id: int | None = None


class ResponseCreate(RequestModel):
    response_text: Annotated[str, Field(min_length=1, max_length=10000)]


# --- x-rays ---------------------------------------------------------------------------


class XRay(ResponseModel):
    id: int
    user_id: int
    name_of_xray: str
    description_of_xray: str | None
    result_of_xray: str | None
    type_of_xray: XRayType
    image_of_xray: str
    thumbnail_url: str
    content_type: str
    width: int
    height: int
    size_bytes: int
    sha256: str
    created_at: datetime
    updated_at: datetime
    # The result's lifecycle (docs/api.md, "Results"): a patient sees the result, its marks and
    # its addenda once it is signed (result_final: status final or amended).
    result_final: bool = False
    result_status: ResultStatus = ResultStatus.none
    result_signed_by: int | None = None
    result_signed_by_name: str | None = None  # medsys extension
    result_signed_at: datetime | None = None
    addenda: list["Addendum"] = Field(default_factory=list)
    # Every x-ray is a DICOM instance (docs/api.md, "Interoperability"): a PNG's or JPEG's UIDs
    # are made once at arrival and kept.
    study_instance_uid: str | None = None
    series_instance_uid: str | None = None
    sop_instance_uid: str | None = None
    study_date: date | None = None
    modality: str | None = None
    # Staff only (medsys extension): what a DICOM file says of its patient, and in words where
    # that disagrees with the account the film is filed under.
    file_patient_id: str | None = None
    file_patient_name: str | None = None
    file_birth_date: str | None = None
    identity_warnings: list[str] = Field(default_factory=list)


class Addendum(ResponseModel):
    id: int
    xray_id: int
    author_id: int
    author_name: str
    text: str
    created_at: datetime


class AddendumCreate(RequestModel):
    text: Annotated[str, Field(min_length=1, max_length=10000)]


class UnmatchedInstance(ResponseModel):
    """A DICOM instance whose PatientID matched no patient, waiting for an admin."""

    id: int
    received_at: datetime
    source: str
    patient_id_in_file: str | None
    patient_name_in_file: str | None
    study_date: date | None
    modality: str | None
    sop_instance_uid: str
    # medsys extensions: more of what the file says, and its picture
    birth_date_in_file: str | None = None
    body_part: str | None = None
    description: str | None = None
    width: int = 0
    height: int = 0
    thumbnail_url: str = ""


class UnmatchedAssign(RequestModel):
    patient_id: Annotated[int, Field(ge=1)]


class Counts(ResponseModel):
    """GET /api/counts: how much waits for the user, as numbers only (a tab's badge). Null
    where the role has no such list."""

    pending_questions: int | None = None  # the doctor's queue (admins: every pending one)
    films_to_read: int | None = None  # the worklist: unsigned results
    awaiting_approval: int | None = None  # admins: doctors who registered and wait


class WorklistItem(XRay):
    """A film to read, with its patient's name (the worklist shows people)."""

    patient_name: str


class XRayUploadFields(RequestModel):
    """The text fields of the multipart upload; form values arrive as strings."""

    model_config = RequestModel.model_config | {"strict": False}

    name_of_xray: Title
    type_of_xray: XRayType
    description_of_xray: LongText | None = None
    user_id: int | None = None


class XRayUpdate(RequestModel):
    name_of_xray: Annotated[Title | None, NotNull] = None
    description_of_xray: LongText | None = None
    type_of_xray: Annotated[XRayType | None, NotNull] = None
    result_of_xray: LongText | None = None
    result_final: Annotated[bool | None, NotNull] = None


# --- medical histories ----------------------------------------------------------------


class MedicalHistory(ResponseModel):
    id: int
    user_id: int
    name_of_surgery: str
    description_of_surgery: str | None
    created_at: datetime
    updated_at: datetime


class MedicalHistoryCreate(RequestModel):
    name_of_surgery: Title
    description_of_surgery: LongText | None = None


class MedicalHistoryUpdate(RequestModel):
    name_of_surgery: Annotated[Title | None, NotNull] = None
    description_of_surgery: LongText | None = None


# --- audit and meta -------------------------------------------------------------------


class AuditEvent(ResponseModel):
    id: int
    at: datetime
    actor_id: int | None
    action: AuditAction
    object_type: AuditObjectType
    object_id: int | None
    patient_id: int | None
    outcome: AuditOutcome
    ip: str | None
    # medsys extension: the people's names, so a trail reads without looking every id up
    actor_name: str | None = None
    actor_role: UserType | None = None
    patient_name: str | None = None
    # medsys extension: the object's name (the film's, the question's first words) and, for
    # changes to accounts, what the change was ("approved", "deactivated", "reactivated")
    object_name: str | None = None
    detail: str | None = None


class Health(ResponseModel):
    status: str
    database: str
    # medsys extension: "ok", "full" or "unwritable" (the image store takes writes, or not)
    storage: str = "ok"


# --- imaging --------------------------------------------------------------------------


class WindowPreset(ResponseModel):
    name: str
    center: float
    width: float


class DicomTag(ResponseModel):
    tag: str  # "(0010,0010)"
    keyword: str
    vr: str
    value: str


class XRayMetadata(ResponseModel):
    width: int
    height: int
    bits_stored: int
    photometric_interpretation: str
    pixel_spacing: list[float] | None  # [row_mm, col_mm]
    window_presets: list[WindowPreset]
    modality: str | None
    body_part: str | None
    study_date: str | None
    tags: list[DicomTag]


Point = Annotated[list[float], Field(min_length=2, max_length=2)]


POINTS_PER_KIND = {"line": 2, "arrow": 2, "angle": 3, "text": 1}


class Annotation(RequestModel):
    """A mark in image pixel coordinates: a line (measured), an angle (vertex in the middle),
    an arrow (tail, head) or a text (its anchor and label)."""

    kind: Literal["line", "angle", "arrow", "text"]
    points: Annotated[list[Point], Field(min_length=1, max_length=3)]
    label: Annotated[str, Field(max_length=500)] | None = None

    @model_validator(mode="after")
    def _shape(self) -> "Annotation":
        expected = POINTS_PER_KIND[self.kind]
        if len(self.points) != expected:
            raise ValueError(f"this {self.kind} needs {expected} point(s), not {len(self.points)}")
        if self.kind == "text" and not self.label:
            raise ValueError("a text annotation needs a label")
        return self


class AnnotationsUpdate(RequestModel):
    annotations: Annotated[list[Annotation], Field(max_length=500)]
    # medsys extension: mm per image pixel, from a calibration line drawn on a PNG/JPEG.
    calibration_mm_per_pixel: Annotated[float, Field(gt=0, lt=100)] | None = None


class AnnotationSet(ResponseModel):
    annotations: list[Annotation]
    calibration_mm_per_pixel: float | None = None
    author_id: int | None
    updated_at: datetime | None


# --- live events ----------------------------------------------------------------------


class Event(ResponseModel):
    """A frame of GET /api/events: what changed, by id (the client reads the object itself)."""

    id: int
    type: str  # an EventType, or "resync"
    at: datetime | None = None
    object_type: str | None = None
    object_id: int | None = None
    patient_id: int | None = None
