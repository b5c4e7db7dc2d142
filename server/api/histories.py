"""Medical histories: a patient's past surgeries and treatments, kept by doctors."""

from aiohttp import web
from sqlalchemy import select

from server.access import (
    load_patient,
    patient_list_subject,
    require_history_visible,
)
from server.endpoint import ADMIN, ANY_USER, STAFF, Context, endpoint, json_response, no_content
from server.events.outbox import announce
from server.orm import MedicalHistoryRow
from server.pagination import PageQuery, fetch_page
from shared.base import Page
from shared.enums import AuditObjectType, EventType
from shared.models import MedicalHistory, MedicalHistoryCreate, MedicalHistoryUpdate

routes = web.RouteTableDef()
HISTORY = AuditObjectType.medical_history


@routes.get("/api/medical_histories_of_patient/{user_id}")
@endpoint(
    "A patient's medical history, newest first",
    roles=ANY_USER,
    query=PageQuery,
    response=Page[MedicalHistory],
    subject=HISTORY,
)
async def list_histories(ctx: Context) -> web.Response:
    patient_id = ctx.path_id("user_id")
    ctx.audit.about(HISTORY, None, patient_id)
    await patient_list_subject(ctx.user, ctx.db, patient_id)
    page = ctx.query(PageQuery)
    statement = select(MedicalHistoryRow).where(
        MedicalHistoryRow.user_id == patient_id, MedicalHistoryRow.live()
    )
    histories, next_cursor = await fetch_page(ctx.db, statement, MedicalHistoryRow.id, page)
    if histories:
        ctx.audit.record_patients(HISTORY, {patient_id})
    return json_response(
        Page[MedicalHistory](
            items=[MedicalHistory.model_validate(history) for history in histories],
            next_cursor=next_cursor,
        )
    )


@routes.post("/api/medical_histories_of_patient/{user_id}")
@endpoint(
    "Add a surgery or treatment to a patient's history (doctors, admins)",
    roles=STAFF,
    body=MedicalHistoryCreate,
    response=MedicalHistory,
    status=201,
    subject=HISTORY,
)
async def add_history(ctx: Context) -> web.Response:
    patient_id = ctx.path_id("user_id")
    ctx.audit.about(HISTORY, None, patient_id)
    await load_patient(ctx.db, patient_id)
    body = await ctx.json_body(MedicalHistoryCreate)
    history = MedicalHistoryRow(
        user_id=patient_id,
        created_by_id=ctx.user.id,
        name_of_surgery=body.name_of_surgery,
        description_of_surgery=body.description_of_surgery,
    )
    ctx.db.add(history)
    await ctx.db.flush()
    ctx.audit.record(HISTORY, history.id, patient_id)
    await _announce_change(ctx, history)
    return json_response(MedicalHistory.model_validate(history), status=201)


async def _announce_change(ctx: Context, history: MedicalHistoryRow) -> None:
    await announce(
        ctx.db,
        EventType.history_changed,
        "medical_history",
        history.id,
        history.user_id,
        to_patient=True,
    )


async def _load_history(ctx: Context) -> MedicalHistoryRow:
    history_id = ctx.path_id("id")
    history = await ctx.db.get(MedicalHistoryRow, history_id)
    ctx.audit.about(HISTORY, history_id, history.user_id if history is not None else None)
    return require_history_visible(history)


@routes.patch("/api/medical_histories/{id}")
@endpoint(
    "Correct an entry of a medical history (doctors, admins)",
    roles=STAFF,
    body=MedicalHistoryUpdate,
    response=MedicalHistory,
    subject=HISTORY,
)
async def update_history(ctx: Context) -> web.Response:
    history = await _load_history(ctx)
    body = await ctx.json_body(MedicalHistoryUpdate)
    for name in body.model_fields_set:
        setattr(history, name, getattr(body, name))
    await ctx.db.flush()
    ctx.audit.record(HISTORY, history.id, history.user_id)
    await _announce_change(ctx, history)
    return json_response(MedicalHistory.model_validate(history))


@routes.delete("/api/medical_histories/{id}")
@endpoint("Delete an entry (admins; kept for retention)", roles=ADMIN, status=204, subject=HISTORY)
async def delete_history(ctx: Context) -> web.Response:
    history = await _load_history(ctx)
    history.deleted_at = ctx.now
    ctx.audit.record(HISTORY, history.id, history.user_id)
    await _announce_change(ctx, history)
    return no_content()
