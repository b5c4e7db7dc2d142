"""The unmatched inbox: DICOM instances whose PatientID matched no patient. An admin sees each
(its picture and what the file says of its patient), assigns it to a patient (it becomes an
x-ray, as any arrival does) or discards it."""

from aiohttp import web
from sqlalchemy import select

from server.access import load_patient
from server.api.xrays import film_thumbnail, send_file
from server.convert import xray_out
from server.endpoint import ADMIN, Context, endpoint, json_response, no_content
from server.errors import NotFound, invalid
from server.ingest import file_xray, film_fields, new_xray, remove_unreferenced
from server.keys import PIXEL_RENDERER, STORAGE
from server.orm import UnmatchedRow
from server.pagination import PageQuery, fetch_page
from server.pixelcache import Film
from server.pixels import transform_path
from shared.base import Page
from shared.enums import AuditObjectType
from shared.models import UnmatchedAssign, UnmatchedInstance, XRay

routes = web.RouteTableDef()
XRAY = AuditObjectType.xray
GONE = "There is no such instance in the inbox (assigned or discarded meanwhile?)."


def unmatched_out(row: UnmatchedRow) -> UnmatchedInstance:
    return UnmatchedInstance(
        id=row.id,
        received_at=row.received_at,
        source=row.source,
        patient_id_in_file=row.file_patient_id,
        patient_name_in_file=row.file_patient_name,
        study_date=row.study_date,
        modality=row.modality,
        sop_instance_uid=row.sop_instance_uid,
        birth_date_in_file=row.file_birth_date,
        body_part=row.body_part,
        description=row.description,
        width=row.width,
        height=row.height,
        thumbnail_url=f"/api/admin/unmatched/{row.id}/thumbnail",
    )


async def _load(ctx: Context) -> UnmatchedRow:
    row = await ctx.db.scalar(
        select(UnmatchedRow).where(UnmatchedRow.id == ctx.path_id("id")).with_for_update()
    )
    if row is None:
        raise NotFound(GONE)
    return row


@routes.get("/api/admin/unmatched")
@endpoint(
    "DICOM instances that matched no patient, oldest first (admins)",
    roles=ADMIN,
    query=PageQuery,
    response=Page[UnmatchedInstance],
    subject=XRAY,
)
async def list_unmatched(ctx: Context) -> web.Response:
    page = ctx.query(PageQuery)
    rows, next_cursor = await fetch_page(
        ctx.db, select(UnmatchedRow), UnmatchedRow.id, page, newest_first=False
    )
    # Films of no known patient: the read is recorded, against no patient.
    ctx.audit.record(XRAY, None, None, detail="unmatched inbox")
    items = [unmatched_out(row) for row in rows]
    return json_response(Page[UnmatchedInstance](items=items, next_cursor=next_cursor))


@routes.get("/api/admin/unmatched/{id}/thumbnail")
@endpoint("The picture of an instance waiting in the inbox (admins)", roles=ADMIN, subject=XRAY)
async def unmatched_thumbnail(ctx: Context) -> web.StreamResponse:
    row = await _load(ctx)
    ctx.audit.record(XRAY, None, None, detail="unmatched inbox")
    await ctx.commit()
    path = await film_thumbnail(ctx, Film.of(row))
    return await send_file(ctx, path, row.thumbnail_type, f'"{row.sha256}-thumb"')


@routes.post("/api/admin/unmatched/{id}/assign")
@endpoint(
    "File an inbox instance under a patient: it becomes an x-ray, audited and announced as "
    "any arrival (admins)",
    roles=ADMIN,
    body=UnmatchedAssign,
    response=XRay,
    status=201,
    subject=XRAY,
)
async def assign_unmatched(ctx: Context) -> web.Response:
    body = await ctx.json_body(UnmatchedAssign)
    row = await _load(ctx)
    try:
        patient = await load_patient(ctx.db, body.patient_id)
    except NotFound:
        raise invalid("patient_id", "There is no patient with this id.") from None
    fields = film_fields(row.body_part, row.description, row.modality)
    xray = new_xray(row, patient.id, ctx.user.id, fields)
    xray.patient = patient
    await ctx.db.delete(row)
    await ctx.db.flush()  # the inbox entry goes first: the UID is then free among x-rays
    await file_xray(ctx.db, ctx.audit, xray, by_patient=False, detail="from the unmatched inbox")
    ctx.request.app[PIXEL_RENDERER].prerender(Film.of(xray))
    return json_response(xray_out(xray, ctx.user), status=201)


@routes.delete("/api/admin/unmatched/{id}")
@endpoint("Discard an inbox instance (admins)", roles=ADMIN, status=204, subject=XRAY)
async def discard_unmatched(ctx: Context) -> web.Response:
    row = await _load(ctx)
    sha256 = row.sha256
    store = ctx.request.app[STORAGE]
    # Its display pixels too: a render made them with its thumbnail (PixelRenderer).
    pixels = store.pixels_path(sha256)
    files = [
        store.original_path(sha256),
        store.thumbnail_path(sha256, row.thumbnail_type),
        pixels,
        transform_path(pixels),
    ]
    await ctx.db.delete(row)
    ctx.audit.record(XRAY, None, None, detail="discarded from the unmatched inbox")
    ctx.audit.flush_into(ctx.db)
    await ctx.db.commit()
    await remove_unreferenced(ctx.db, store, sha256, files)
    return no_content()
