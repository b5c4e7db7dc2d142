"""Finding people: the doctors a patient can ask, the patients staff can look up."""

from typing import Annotated

from aiohttp import web
from pydantic import Field
from sqlalchemy import select

from server.endpoint import ANY_USER, STAFF, Context, endpoint, json_response
from server.orm import UserRow
from server.pagination import PageQuery, fetch_page
from server.search import user_matches
from shared.base import Page
from shared.enums import AuditObjectType, UserType
from shared.models import DoctorSummary, User

routes = web.RouteTableDef()


class PatientQuery(PageQuery):
    q: Annotated[str, Field(max_length=200)] | None = None


@routes.get("/api/doctors")
@endpoint(
    "Active doctors, for choosing whom to ask",
    roles=ANY_USER,
    query=PageQuery,
    response=Page[DoctorSummary],
)
async def list_doctors(ctx: Context) -> web.Response:
    page = ctx.query(PageQuery)
    statement = select(UserRow).where(
        UserRow.usertype == UserType.doctor, UserRow.is_active.is_(True)
    )
    doctors, next_cursor = await fetch_page(ctx.db, statement, UserRow.id, page)
    return json_response(
        Page[DoctorSummary](
            items=[DoctorSummary.model_validate(doctor) for doctor in doctors],
            next_cursor=next_cursor,
        )
    )


@routes.get("/api/patients")
@endpoint(
    "Find patients by name, email or phone (doctors and admins)",
    roles=STAFF,
    query=PatientQuery,
    response=Page[User],
    subject=AuditObjectType.user,
)
async def list_patients(ctx: Context) -> web.Response:
    query = ctx.query(PatientQuery)
    statement = select(UserRow).where(UserRow.usertype == UserType.patient)
    if query.q:
        statement = statement.where(user_matches(query.q))
    patients, next_cursor = await fetch_page(ctx.db, statement, UserRow.id, query)
    ctx.audit.record_patients(AuditObjectType.user, {patient.id for patient in patients})
    return json_response(
        Page[User](items=[User.model_validate(p) for p in patients], next_cursor=next_cursor)
    )
