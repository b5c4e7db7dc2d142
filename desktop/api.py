"""The one client of the medsys HTTP API: a method per endpoint, bodies and answers in the
`shared` models. Only `desktop/operations` (and the login) call it; widgets never do.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TypeVar

import aiohttp
from pydantic import BaseModel

from desktop.http import CHUNK, ApiError, HttpClient, Progress, body_of
from shared.base import Page
from shared.models import (
    Addendum,
    AddendumCreate,
    AdminUserCreate,
    AdminUserUpdate,
    AnnotationSet,
    AnnotationsUpdate,
    AuditEvent,
    Counts,
    DoctorSummary,
    LoginRequest,
    LoginResponse,
    MedicalHistory,
    MedicalHistoryCreate,
    MedicalHistoryUpdate,
    PasswordChange,
    ProfileUpdate,
    Question,
    QuestionCreate,
    RegisterRequest,
    Response,
    ResponseCreate,
    UnmatchedAssign,
    UnmatchedInstance,
    User,
    UserEnvelope,
    WorklistItem,
    XRay,
    XRayMetadata,
    XRayUpdate,
    XRayUploadFields,
)

__all__ = ["ApiClient", "ApiError", "all_pages"]

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class AuditFilters:
    """What the admin's audit trail is narrowed to (None: any)."""

    actor_id: int | None = None
    patient_id: int | None = None
    action: str | None = None
    since: date | None = None
    until: date | None = None


async def all_pages(fetch: Callable[[str | None], Awaitable[Page[ModelT]]]) -> list[ModelT]:
    """Every item of a paged list, page by page (for short lists: doctors, a patient's films)."""
    items: list[ModelT] = []
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        items += page.items
        if (cursor := page.next_cursor) is None:
            return items


class ApiClient(HttpClient):
    # --- sessions -----------------------------------------------------------------------

    async def login(self, body: LoginRequest) -> LoginResponse:
        answer = await self._model(LoginResponse, "POST", "/api/login", json=body_of(body))
        self.token = answer.access_token
        return answer

    async def register(self, body: RegisterRequest) -> User:
        envelope = await self._model(UserEnvelope, "POST", "/api/register", json=body_of(body))
        return envelope.user

    async def logout(self) -> None:
        try:
            if self.token:
                await self._call("POST", "/api/logout")
        finally:
            self.token = None

    async def profile(self) -> User:
        return await self._model(User, "GET", "/api/profile")

    async def update_profile(self, body: ProfileUpdate) -> User:
        return await self._model(User, "PATCH", "/api/profile", json=body_of(body))

    async def change_password(self, body: PasswordChange) -> None:
        await self._call("POST", "/api/profile/password", json=body_of(body))

    async def access_log(self, cursor: str | None = None) -> Page[AuditEvent]:
        return await self._page(AuditEvent, "/api/profile/access_log", {"cursor": cursor})

    # --- directory ----------------------------------------------------------------------

    async def doctors(self, cursor: str | None = None) -> Page[DoctorSummary]:
        return await self._page(DoctorSummary, "/api/doctors", {"cursor": cursor, "limit": 200})

    async def patients(self, text: str = "", cursor: str | None = None) -> Page[User]:
        return await self._page(User, "/api/patients", {"q": text, "cursor": cursor})

    # --- questions ----------------------------------------------------------------------

    async def questions(
        self, status: str | None = None, cursor: str | None = None
    ) -> Page[Question]:
        return await self._page(Question, "/api/questions", {"status": status, "cursor": cursor})

    async def pending_questions(self, cursor: str | None = None) -> Page[Question]:
        return await self._page(Question, "/api/questions/pending", {"cursor": cursor})

    async def conversation(
        self, doctor_id: int, patient_id: int, cursor: str | None = None
    ) -> Page[Question]:
        return await self._page(
            Question, f"/api/questions/{doctor_id}/{patient_id}", {"cursor": cursor}
        )

    async def question(self, question_id: int) -> Question:
        return await self._model(Question, "GET", f"/api/questions/{question_id}")

    async def ask(self, body: QuestionCreate) -> Question:
        return await self._model(Question, "POST", "/api/questions", json=body_of(body))

    async def claim(self, question_id: int) -> Question:
        return await self._model(Question, "POST", f"/api/questions/{question_id}/claim")

    async def counts(self) -> Counts:
        return await self._model(Counts, "GET", "/api/counts")

    async def answer(self, question_id: int, body: ResponseCreate) -> Response:
        path = f"/api/questions/{question_id}/response"
        return await self._model(Response, "POST", path, json=body_of(body))

    # --- x-rays -------------------------------------------------------------------------

    async def xrays(self, patient_id: int, cursor: str | None = None) -> Page[XRay]:
        return await self._page(XRay, f"/api/xrays/{patient_id}", {"cursor": cursor})

    async def xray(self, xray_id: int) -> XRay:
        return await self._model(XRay, "GET", f"/api/unique_xray/{xray_id}")

    async def update_xray(self, xray_id: int, body: XRayUpdate) -> XRay:
        return await self._model(XRay, "PATCH", f"/api/xrays/{xray_id}", json=body_of(body))

    async def worklist(
        self, result_status: str | None = None, cursor: str | None = None
    ) -> Page[WorklistItem]:
        params = {"result_status": result_status, "cursor": cursor}
        return await self._page(WorklistItem, "/api/xrays/worklist", params)

    async def sign_result(self, xray_id: int) -> XRay:
        return await self._model(XRay, "POST", f"/api/xrays/{xray_id}/result/sign")

    async def add_addendum(self, xray_id: int, body: AddendumCreate) -> Addendum:
        path = f"/api/xrays/{xray_id}/addenda"
        return await self._model(Addendum, "POST", path, json=body_of(body))

    async def delete_xray(self, xray_id: int) -> None:
        await self._call("DELETE", f"/api/xrays/{xray_id}")

    async def upload_xray(self, path: Path, fields: XRayUploadFields, progress: Progress) -> XRay:
        total = path.stat().st_size

        async def chunks() -> AsyncIterator[bytes]:
            sent = 0
            with path.open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    sent += len(chunk)
                    progress(sent, total)
                    yield chunk

        form = aiohttp.FormData(default_to_multipart=True)
        for name, value in body_of(fields).items():
            if value is not None and value != "":
                form.add_field(name, str(value))
        form.add_field(
            "image", chunks(), filename=path.name, content_type="application/octet-stream"
        )
        return await self._model(XRay, "POST", "/api/xrays", data=form)

    async def thumbnail(self, xray: XRay | UnmatchedInstance) -> bytes:
        return await self._call("GET", xray.thumbnail_url)

    # --- the unmatched inbox ------------------------------------------------------------

    async def unmatched(self, cursor: str | None = None) -> Page[UnmatchedInstance]:
        return await self._page(UnmatchedInstance, "/api/admin/unmatched", {"cursor": cursor})

    async def assign_unmatched(self, entry_id: int, body: UnmatchedAssign) -> XRay:
        path = f"/api/admin/unmatched/{entry_id}/assign"
        return await self._model(XRay, "POST", path, json=body_of(body))

    async def discard_unmatched(self, entry_id: int) -> None:
        await self._call("DELETE", f"/api/admin/unmatched/{entry_id}")

    # --- imaging ------------------------------------------------------------------------

    async def metadata(self, xray_id: int) -> XRayMetadata:
        return await self._model(XRayMetadata, "GET", f"/api/xrays/{xray_id}/metadata")

    async def annotations(self, xray_id: int) -> AnnotationSet:
        return await self._model(AnnotationSet, "GET", f"/api/xrays/{xray_id}/annotations")

    async def save_annotations(self, xray_id: int, body: AnnotationsUpdate) -> AnnotationSet:
        path = f"/api/xrays/{xray_id}/annotations"
        return await self._model(AnnotationSet, "PUT", path, json=body_of(body))

    # --- medical histories --------------------------------------------------------------

    async def histories(self, patient_id: int, cursor: str | None = None) -> Page[MedicalHistory]:
        return await self._page(
            MedicalHistory, f"/api/medical_histories_of_patient/{patient_id}", {"cursor": cursor}
        )

    async def add_history(self, patient_id: int, body: MedicalHistoryCreate) -> MedicalHistory:
        path = f"/api/medical_histories_of_patient/{patient_id}"
        return await self._model(MedicalHistory, "POST", path, json=body_of(body))

    async def update_history(self, history_id: int, body: MedicalHistoryUpdate) -> MedicalHistory:
        path = f"/api/medical_histories/{history_id}"
        return await self._model(MedicalHistory, "PATCH", path, json=body_of(body))

    async def delete_history(self, history_id: int) -> None:
        await self._call("DELETE", f"/api/medical_histories/{history_id}")

    # --- admin --------------------------------------------------------------------------

    async def users(
        self, usertype: str | None, is_active: bool | None, text: str, cursor: str | None = None
    ) -> Page[User]:
        return await self._page(
            User,
            "/api/admin/users",
            {"usertype": usertype, "is_active": is_active, "q": text, "cursor": cursor},
        )

    async def create_user(self, body: AdminUserCreate) -> User:
        return await self._model(User, "POST", "/api/admin/users", json=body_of(body))

    async def update_user(self, user_id: int, body: AdminUserUpdate) -> User:
        path = f"/api/admin/users/{user_id}"
        return await self._model(User, "PATCH", path, json=body_of(body))

    async def deactivate_user(self, user_id: int) -> None:
        await self._call("DELETE", f"/api/admin/users/{user_id}")

    async def audit(self, filters: AuditFilters, cursor: str | None = None) -> Page[AuditEvent]:
        params = {
            "actor_id": filters.actor_id,
            "patient_id": filters.patient_id,
            "action": filters.action,
            "since": filters.since.isoformat() if filters.since else None,
            "until": filters.until.isoformat() if filters.until else None,
            "cursor": cursor,
        }
        return await self._page(AuditEvent, "/api/admin/audit", params)
