"""The worklist: every patient's films whose result is not signed yet, oldest first."""

from typing import Literal

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from server.convert import XRAY_LOADS, xray_out
from server.endpoint import STAFF, Context, endpoint, json_response
from server.orm import XRayRow
from server.pagination import PageQuery, fetch_page
from shared.base import Page
from shared.enums import AuditObjectType, ResultStatus
from shared.models import WorklistItem

routes = web.RouteTableDef()
XRAY = AuditObjectType.xray


class WorklistQuery(PageQuery):
    result_status: Literal[ResultStatus.none, ResultStatus.preliminary] | None = None


@routes.get("/api/xrays/worklist")
@endpoint(
    "Films to read: x-rays of every patient whose result is not signed, oldest first "
    "(doctors, admins)",
    roles=STAFF,
    query=WorklistQuery,
    response=Page[WorklistItem],
    subject=XRAY,
)
async def worklist(ctx: Context) -> web.Response:
    query = ctx.query(WorklistQuery)
    # The partial index ix_xrays_unsigned_id holds exactly these rows, in id order.
    statement = (
        select(XRayRow)
        .where(XRayRow.unsigned())
        .options(*XRAY_LOADS, selectinload(XRayRow.patient))
    )
    if query.result_status is not None:
        statement = statement.where(XRayRow.result_status == query.result_status)
    xrays, next_cursor = await fetch_page(ctx.db, statement, XRayRow.id, query, newest_first=False)
    ctx.audit.record_patients(XRAY, {xray.user_id for xray in xrays})
    items = [
        WorklistItem(**xray_out(xray, ctx.user).model_dump(), patient_name=xray.patient.full_name)
        for xray in xrays
    ]
    return json_response(Page[WorklistItem](items=items, next_cursor=next_cursor))
