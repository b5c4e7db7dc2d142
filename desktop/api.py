"""The one client of the medsys HTTP API. Widgets never build URLs or parse JSON themselves.

Every method is a coroutine run on the runner's loop (see runner.py); answers are parsed into
the `shared` models and errors raised as `ApiError` carrying the server's problem details.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from pydantic import BaseModel, TypeAdapter, ValidationError

from shared.base import Page, Problem
from shared.models import (
    Annotation,
    AnnotationSet,
    AnnotationsUpdate,
    AuditEvent,
    DoctorSummary,
    LoginResponse,
    MedicalHistory,
    Question,
    Response,
    User,
    UserEnvelope,
    XRay,
    XRayMetadata,
)

ModelT = TypeVar("ModelT", bound=BaseModel)
ResultT = TypeVar("ResultT")
Progress = Callable[[int, int], None]
UPLOAD_CHUNK = 64 * 1024
# Seconds between the attempts of a read while the server is unavailable (a restart, the
# database away); the server's Retry-After is honoured when longer, up to MAX_RETRY_WAIT.
READ_RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0)
MAX_RETRY_WAIT = 30.0
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD"})


def _retry_after(response: aiohttp.ClientResponse) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


class ApiError(Exception):
    """A refused request, or a server that could not be reached (status 0)."""

    def __init__(
        self,
        status: int,
        detail: str,
        problem: Problem | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.problem = problem
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        """The server is out of reach or temporarily unavailable: trying again may work."""
        return self.status in (0, 503)

    @property
    def field_errors(self) -> dict[str, str]:
        if self.problem is None or not self.problem.errors:
            return {}
        return {error.field: error.message for error in self.problem.errors}


@dataclass(frozen=True, slots=True)
class PixelData:
    """The display pixels of an x-ray: the PNG's path and how to read its values."""

    path: Path
    offset: float
    scale: float
    bits: int


def _clean(params: Mapping[str, object | None]) -> dict[str, str]:
    result = {}
    for key, value in params.items():
        if value is None or value == "":
            continue
        result[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return result


def _account(
    full_name: str, email: str, phone: str, usertype: str, password: str
) -> dict[str, str]:
    """The body that opens an account, by registration or by an admin."""
    return {
        "full_name": full_name,
        "email": email,
        "phone": phone,
        "usertype": usertype,
        "password": password,
    }


async def all_pages(fetch: Callable[[str | None], Awaitable[Page[ModelT]]]) -> list[ModelT]:
    """Every item of a paged list, page by page (for short lists: doctors, a patient's films)."""
    items: list[ModelT] = []
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        items += page.items
        if (cursor := page.next_cursor) is None:
            return items


class ApiClient:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.token: str | None = None
        self._session: aiohttp.ClientSession | None = None
        self.retry_delays: tuple[float, ...] = READ_RETRY_DELAYS
        # Told (on the runner's thread) when a read is retried, and when a retried read
        # succeeds, so the window can say so.
        self.on_retry: Callable[[str], None] = lambda _message: None
        self.on_recovered: Callable[[], None] = lambda: None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _unreachable(self, error: aiohttp.ClientError) -> ApiError:
        return ApiError(0, f"Cannot reach the server at {self.base_url} ({type(error).__name__}).")

    async def _error(self, response: aiohttp.ClientResponse) -> ApiError:
        text = await response.text()
        retry_after = _retry_after(response)
        try:
            problem = Problem.model_validate_json(text)
        except ValidationError:
            return ApiError(
                response.status,
                f"The server answered {response.status} {response.reason}.",
                retry_after=retry_after,
            )
        return ApiError(response.status, problem.detail, problem, retry_after)

    async def _retrying(self, method: str, attempt: Callable[[], Awaitable[ResultT]]) -> ResultT:
        """Run `attempt`; a read that meets an unavailable server is tried again a few times,
        with growing pauses. Writes are never repeated: the first may have been applied."""
        delays = iter(self.retry_delays if method in IDEMPOTENT_METHODS else ())
        retried = False
        while True:
            try:
                result = await attempt()
            except ApiError as error:
                delay = next(delays, None) if error.transient else None
                if delay is None:
                    raise
                wait = min(max(delay, error.retry_after or 0.0), MAX_RETRY_WAIT)
                self.on_retry(f"The server is temporarily unavailable; retrying in {wait:g} s…")
                retried = True
                await asyncio.sleep(wait)
            else:
                if retried:
                    self.on_recovered()
                return result

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, object | None] | None = None,
        data: Any = None,
    ) -> bytes:
        return await self._retrying(
            method, lambda: self._call_once(method, path, json=json, params=params, data=data)
        )

    async def _call_once(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, object | None] | None = None,
        data: Any = None,
    ) -> bytes:
        try:
            async with self._http().request(
                method,
                f"{self.base_url}{path}",
                json=json,
                params=_clean(params or {}),
                data=data,
                headers=self._headers(),
            ) as response:
                if response.status >= 400:
                    raise await self._error(response)
                return await response.read()
        except aiohttp.ClientError as error:
            raise self._unreachable(error) from None

    async def _model(self, model: type[ModelT], method: str, path: str, **kwargs: Any) -> ModelT:
        return model.model_validate_json(await self._call(method, path, **kwargs))

    async def _page(
        self, item: type[ModelT], path: str, params: Mapping[str, object | None]
    ) -> Page[ModelT]:
        body = await self._call("GET", path, params=params)
        return TypeAdapter(Page[item]).validate_json(body)  # type: ignore[valid-type]

    # --- sessions -----------------------------------------------------------------------

    async def login(self, email: str, password: str) -> LoginResponse:
        answer = await self._model(
            LoginResponse, "POST", "/api/login", json={"email": email, "password": password}
        )
        self.token = answer.access_token
        return answer

    async def register(
        self, full_name: str, email: str, phone: str, usertype: str, password: str
    ) -> User:
        body = _account(full_name, email, phone, usertype, password)
        return (await self._model(UserEnvelope, "POST", "/api/register", json=body)).user

    async def logout(self) -> None:
        try:
            if self.token:
                await self._call("POST", "/api/logout")
        finally:
            self.token = None

    async def profile(self) -> User:
        return await self._model(User, "GET", "/api/profile")

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

    async def ask(self, text: str, doctor_id: int | None, xray_id: int | None) -> Question:
        body = {"question_text": text, "doctor_id": doctor_id, "xray_id": xray_id}
        return await self._model(Question, "POST", "/api/questions", json=body)

    async def answer(self, question_id: int, text: str) -> Response:
        return await self._model(
            Response, "POST", f"/api/questions/{question_id}/response", json={"response_text": text}
        )

    # --- x-rays -------------------------------------------------------------------------

    async def xrays(self, patient_id: int, cursor: str | None = None) -> Page[XRay]:
        return await self._page(XRay, f"/api/xrays/{patient_id}", {"cursor": cursor})

    async def xray(self, xray_id: int) -> XRay:
        return await self._model(XRay, "GET", f"/api/unique_xray/{xray_id}")

    async def update_xray(self, xray_id: int, **fields: object) -> XRay:
        return await self._model(XRay, "PATCH", f"/api/xrays/{xray_id}", json=fields)

    async def delete_xray(self, xray_id: int) -> None:
        await self._call("DELETE", f"/api/xrays/{xray_id}")

    async def upload_xray(
        self,
        path: Path,
        name: str,
        xray_type: str,
        description: str | None,
        patient_id: int | None,
        progress: Progress,
    ) -> XRay:
        total = path.stat().st_size

        async def chunks() -> AsyncIterator[bytes]:
            sent = 0
            with path.open("rb") as handle:
                while chunk := handle.read(UPLOAD_CHUNK):
                    sent += len(chunk)
                    progress(sent, total)
                    yield chunk

        form = aiohttp.FormData(default_to_multipart=True)
        form.add_field("name_of_xray", name)
        form.add_field("type_of_xray", xray_type)
        if description:
            form.add_field("description_of_xray", description)
        if patient_id is not None:
            form.add_field("user_id", str(patient_id))
        form.add_field(
            "image", chunks(), filename=path.name, content_type="application/octet-stream"
        )
        return await self._model(XRay, "POST", "/api/xrays", data=form)

    async def download(self, path: str, destination: Path, progress: Progress) -> dict[str, str]:
        """Stream an image to `destination` (atomically); the answer's headers."""
        return await self._retrying("GET", lambda: self._download_once(path, destination, progress))

    async def _download_once(
        self, path: str, destination: Path, progress: Progress
    ) -> dict[str, str]:
        partial = destination.with_name(f"{destination.name}.partial")
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            async with self._http().get(
                f"{self.base_url}{path}", headers=self._headers()
            ) as response:
                if response.status >= 400:
                    raise await self._error(response)
                total, done = response.content_length or 0, 0
                with partial.open("wb") as handle:
                    async for chunk in response.content.iter_chunked(UPLOAD_CHUNK):
                        handle.write(chunk)
                        done += len(chunk)
                        progress(done, total)
                partial.replace(destination)
                return dict(response.headers)
        except aiohttp.ClientError as error:
            raise self._unreachable(error) from None
        finally:
            partial.unlink(missing_ok=True)

    async def metadata(self, xray_id: int) -> XRayMetadata:
        return await self._model(XRayMetadata, "GET", f"/api/xrays/{xray_id}/metadata")

    async def annotations(self, xray_id: int) -> AnnotationSet:
        return await self._model(AnnotationSet, "GET", f"/api/xrays/{xray_id}/annotations")

    async def save_annotations(
        self, xray_id: int, annotations: list[Annotation], calibration: float | None
    ) -> AnnotationSet:
        body = AnnotationsUpdate(annotations=annotations, calibration_mm_per_pixel=calibration)
        return await self._model(
            AnnotationSet,
            "PUT",
            f"/api/xrays/{xray_id}/annotations",
            json=body.model_dump(mode="json"),
        )

    async def thumbnail(self, xray: XRay) -> bytes:
        return await self._call("GET", xray.thumbnail_url)

    # --- medical histories --------------------------------------------------------------

    async def histories(self, patient_id: int, cursor: str | None = None) -> Page[MedicalHistory]:
        return await self._page(
            MedicalHistory, f"/api/medical_histories_of_patient/{patient_id}", {"cursor": cursor}
        )

    async def add_history(
        self, patient_id: int, name: str, description: str | None
    ) -> MedicalHistory:
        body = {"name_of_surgery": name, "description_of_surgery": description}
        return await self._model(
            MedicalHistory, "POST", f"/api/medical_histories_of_patient/{patient_id}", json=body
        )

    async def update_history(
        self, history_id: int, name: str, description: str | None
    ) -> MedicalHistory:
        body = {"name_of_surgery": name, "description_of_surgery": description}
        return await self._model(
            MedicalHistory, "PATCH", f"/api/medical_histories/{history_id}", json=body
        )

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

    async def create_user(
        self, full_name: str, email: str, phone: str, usertype: str, password: str
    ) -> User:
        body = _account(full_name, email, phone, usertype, password)
        return await self._model(User, "POST", "/api/admin/users", json=body)

    async def update_user(self, user_id: int, **fields: object) -> User:
        return await self._model(User, "PATCH", f"/api/admin/users/{user_id}", json=fields)

    async def deactivate_user(self, user_id: int) -> None:
        await self._call("DELETE", f"/api/admin/users/{user_id}")

    async def audit(
        self,
        actor_id: int | None,
        patient_id: int | None,
        action: str | None,
        cursor: str | None = None,
    ) -> Page[AuditEvent]:
        return await self._page(
            AuditEvent,
            "/api/admin/audit",
            {"actor_id": actor_id, "patient_id": patient_id, "action": action, "cursor": cursor},
        )
