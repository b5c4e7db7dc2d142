"""What other people do on the server while a test drives the desktop, through the API client
(the desktop's own calls go through its operations; these stand in for someone else's)."""

from pathlib import Path

from desktop.api import ApiClient
from shared.enums import UserType, XRayType
from shared.models import (
    AdminUserCreate,
    LoginRequest,
    LoginResponse,
    MedicalHistory,
    MedicalHistoryCreate,
    Question,
    QuestionCreate,
    RegisterRequest,
    Response,
    ResponseCreate,
    User,
    XRay,
    XRayUpdate,
    XRayUploadFields,
)


async def api_login(api: ApiClient, email: str, password: str) -> LoginResponse:
    return await api.login(LoginRequest(email=email, password=password))


async def upload(
    api: ApiClient, path: Path, name: str, xray_type: str, patient_id: int | None = None
) -> XRay:
    fields = XRayUploadFields(
        name_of_xray=name, type_of_xray=XRayType(xray_type), user_id=patient_id
    )
    return await api.upload_xray(path, fields, lambda _done, _total: None)


async def ask(
    api: ApiClient, text: str, doctor_id: int | None = None, xray_id: int | None = None
) -> Question:
    return await api.ask(QuestionCreate(question_text=text, doctor_id=doctor_id, xray_id=xray_id))


async def answer(api: ApiClient, question_id: int, text: str) -> Response:
    return await api.answer(question_id, ResponseCreate(response_text=text))


async def add_history(
    api: ApiClient, patient_id: int, name: str, description: str | None = None
) -> MedicalHistory:
    body = MedicalHistoryCreate(name_of_surgery=name, description_of_surgery=description)
    return await api.add_history(patient_id, body)


async def write_result(api: ApiClient, xray_id: int, text: str, final: bool) -> XRay:
    return await api.update_xray(xray_id, XRayUpdate(result_of_xray=text, result_final=final))


async def register(
    api: ApiClient, full_name: str, email: str, phone: str, usertype: str, password: str
) -> User:
    body = RegisterRequest.model_validate(
        {
            "full_name": full_name,
            "email": email,
            "phone": phone,
            "usertype": usertype,
            "password": password,
        }
    )
    return await api.register(body)


async def create_user(
    api: ApiClient, full_name: str, email: str, phone: str, usertype: str, password: str
) -> User:
    body = AdminUserCreate(
        full_name=full_name,
        email=email,
        phone=phone,
        usertype=UserType(usertype),
        password=password,
    )
    return await api.create_user(body)
