"""X-rays: upload, list, read, update the result, serve the image and its thumbnail, delete."""

import asyncio
import logging
from pathlib import Path
from typing import BinaryIO

from aiohttp import web
from sqlalchemy import select

from server.access import (
    load_patient,
    patient_list_subject,
    require_upload_for,
    require_xray_visible,
    xray_fields_for,
)
from server.aio import made_in_thread
from server.convert import XRAY_LOADS, xray_out
from server.endpoint import ADMIN, ANY_USER, Context, endpoint, json_response, no_content
from server.errors import (
    IMAGE_FILE_MISSING,
    ApiError,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    invalid,
)
from server.ingest import (
    Arrival,
    FilmFields,
    drop_files,
    keep_files,
    receive_instance,
    store_image,
)
from server.keys import DECODE_GATE, PIXEL_RENDERER, SESSIONMAKER, STORAGE
from server.orm import UserRow, XRayRow
from server.pagination import PageQuery, fetch_page
from server.pixelcache import Film
from server.results import RESULT_FIELDS, apply_result_update
from server.uploads import ReceivedFile, receive_upload
from shared.base import Page
from shared.enums import AuditObjectType, UserType
from shared.imaging import ImageRejected, sniff_content_type
from shared.models import XRay, XRayUpdate, XRayUploadFields

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
XRAY = AuditObjectType.xray
STREAM_CHUNK = 256 * 1024


async def _store(
    ctx: Context, image: ReceivedFile, fields: XRayUploadFields, patient: UserRow
) -> XRayRow:
    """Validate the image, place it in storage and commit its row; undo all on failure."""
    app = ctx.request.app
    store = app[STORAGE]
    if sniff_content_type(image.head) is None:
        raise UnsupportedMediaType("Only PNG, JPEG and DICOM images are accepted.")
    try:
        stored = await store_image(
            store,
            app[DECODE_GATE],
            ctx.settings.image_limits,
            image.path,
            image.head,
            image.sha256,
        )
    except ImageRejected as error:
        raise invalid("image", str(error)) from None
    try:
        arrival = Arrival(
            image.path, image.head, image.sha256, image.size_bytes, "upload", ctx.user.id
        )
        film = FilmFields(fields.name_of_xray, fields.type_of_xray, fields.description_of_xray)
        xray = await receive_instance(
            ctx.db, ctx.audit, stored, arrival, ctx.now, patient=patient, fields=film
        )
        assert isinstance(xray, XRayRow)  # a patient was named: never the inbox
        ctx.audit.flush_into(ctx.db)
        # Committed here, not by the endpoint wrapper, so that a failed commit still
        # removes the files placed above.
        await ctx.db.commit()
    except BaseException:
        await ctx.db.rollback()
        await drop_files(app[SESSIONMAKER], store, image.sha256, stored)
        raise
    await asyncio.to_thread(keep_files, stored)
    app[PIXEL_RENDERER].prerender(Film.of(xray))
    return xray


@routes.post("/api/xrays")
@endpoint(
    "Upload an x-ray (multipart: image, name_of_xray, type_of_xray, description_of_xray, "
    "user_id); PNG, JPEG or DICOM, recognised by content",
    roles=ANY_USER,
    response=XRay,
    status=201,
    subject=XRAY,
    extra_responses={413: "Body too large", 415: "Not multipart, or not an accepted image"},
    form=XRayUploadFields,
    form_file="image",
)
async def upload_xray(ctx: Context) -> web.Response:
    max_bytes = ctx.settings.max_upload_bytes
    request = ctx.request
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge(f"The upload is larger than the {max_bytes} bytes allowed.")
    if request.content_type != "multipart/form-data":
        raise UnsupportedMediaType("The upload must be multipart/form-data.")
    # Hand the database connection back while the body streams in; SQLite has only one.
    await ctx.db.commit()
    temp_path = request.app[STORAGE].new_temp_path()
    try:
        upload = await receive_upload(request, temp_path, max_bytes, ctx.settings.body_timeout)
        require_upload_for(ctx.user, upload.fields.get("user_id"))
        fields = XRayUploadFields.model_validate(upload.fields)
        if ctx.user.usertype == UserType.patient:
            patient = ctx.user
        elif fields.user_id is None:
            raise invalid("user_id", "Name the patient this x-ray belongs to.")
        else:
            try:
                patient = await load_patient(ctx.db, fields.user_id)
            except NotFound:
                raise invalid("user_id", "There is no patient with this id.") from None
        ctx.audit.about(XRAY, None, patient.id)
        if upload.image is None:
            raise invalid("image", "Attach the image file.")
        xray = await _store(ctx, upload.image, fields, patient)
    finally:
        await asyncio.to_thread(temp_path.unlink, True)
    return json_response(xray_out(xray, ctx.user), status=201)


@routes.get("/api/xrays/{user_id}")
@endpoint(
    "A patient's x-rays, newest first",
    roles=ANY_USER,
    query=PageQuery,
    response=Page[XRay],
    subject=XRAY,
)
async def list_xrays(ctx: Context) -> web.Response:
    patient_id = ctx.path_id("user_id")
    ctx.audit.about(XRAY, None, patient_id)
    await patient_list_subject(ctx.user, ctx.db, patient_id)
    page = ctx.query(PageQuery)
    statement = (
        select(XRayRow).where(XRayRow.user_id == patient_id, XRayRow.live()).options(*XRAY_LOADS)
    )
    xrays, next_cursor = await fetch_page(ctx.db, statement, XRayRow.id, page)
    if xrays:
        ctx.audit.record_patients(XRAY, {patient_id})
    return json_response(
        Page[XRay](items=[xray_out(x, ctx.user) for x in xrays], next_cursor=next_cursor)
    )


async def visible_xray(ctx: Context, object_type: AuditObjectType) -> XRayRow:
    xray_id = ctx.path_id("xray_id")
    xray = await ctx.db.get(XRayRow, xray_id, options=XRAY_LOADS)
    ctx.audit.about(object_type, xray_id, xray.user_id if xray is not None else None)
    return require_xray_visible(ctx.user, xray)


@routes.get("/api/unique_xray/{xray_id}")
@endpoint("One x-ray", roles=ANY_USER, response=XRay, subject=XRAY)
async def get_xray(ctx: Context) -> web.Response:
    xray = await visible_xray(ctx, XRAY)
    ctx.audit.record(XRAY, xray.id, xray.user_id)
    return json_response(xray_out(xray, ctx.user))


@routes.patch("/api/xrays/{xray_id}")
@endpoint(
    "Change an x-ray: the result while not signed, or sign it (doctors); name, type, "
    "description (its patient)",
    roles=ANY_USER,
    body=XRayUpdate,
    response=XRay,
    subject=XRAY,
    extra_responses={409: "The result is signed (add an addendum instead)"},
)
async def update_xray(ctx: Context) -> web.Response:
    xray = await visible_xray(ctx, XRAY)
    refused = set(XRayUpdate.model_fields) - xray_fields_for(ctx.user, xray)
    body = await ctx.json_body(XRayUpdate, refused=refused)
    for name in body.model_fields_set - RESULT_FIELDS:
        setattr(xray, name, getattr(body, name))
    signed = await apply_result_update(ctx.db, xray, body, ctx.user, ctx.now)
    await ctx.db.flush()
    ctx.audit.record(XRAY, xray.id, xray.user_id, detail="signed" if signed else None)
    return json_response(xray_out(xray, ctx.user))


@routes.delete("/api/xrays/{xray_id}")
@endpoint("Delete an x-ray (admins; kept for retention)", roles=ADMIN, status=204, subject=XRAY)
async def delete_xray(ctx: Context) -> web.Response:
    xray = await visible_xray(ctx, XRAY)
    xray.deleted_at = ctx.now
    ctx.audit.record(XRAY, xray.id, xray.user_id)
    return no_content()


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {candidate.strip() for candidate in if_none_match.split(",")}
    return "*" in candidates or etag in candidates or f"W/{etag}" in candidates


async def _opened(path: Path) -> BinaryIO:
    """`path` opened for reading, in a thread; closed at once if the request is cancelled
    meanwhile (the server stopping)."""
    return await made_in_thread(lambda: path.open("rb"), _close)


def _close(handle: BinaryIO) -> None:
    handle.close()


async def send_file(
    ctx: Context,
    path: Path,
    content_type: str,
    etag: str,
    extra_headers: dict[str, str] | None = None,
) -> web.StreamResponse:
    headers = {"ETag": etag, "Cache-Control": "private, no-cache", **(extra_headers or {})}
    if _etag_matches(ctx.request.headers.get("If-None-Match"), etag):
        return web.Response(status=304, headers=headers)
    try:
        size = (await asyncio.to_thread(path.stat)).st_size
    except FileNotFoundError:
        # The store was damaged (a file deleted by hand, a restore that missed some): said
        # plainly, to the user and in the log, rather than as an unexplained failure.
        log.error("%s: its file %s is missing from the image store", ctx.request.path, path)
        raise ApiError(IMAGE_FILE_MISSING) from None
    response = web.StreamResponse(headers=headers)
    response.content_type = content_type
    response.content_length = size
    idle_seconds = ctx.settings.body_timeout
    try:
        await response.prepare(ctx.request)
        if ctx.request.method == "HEAD":
            await response.write_eof()
            return response
        with await _opened(path) as handle:
            while chunk := await asyncio.to_thread(handle.read, STREAM_CHUNK):
                # A client that stops reading would hold the file and the connection.
                async with asyncio.timeout(idle_seconds):
                    await response.write(chunk)
        await response.write_eof()
    except TimeoutError:
        log.info("%s: the client read nothing for %g s; closed", ctx.request.path, idle_seconds)
        if ctx.request.transport is not None:
            ctx.request.transport.abort()
    except ConnectionError:
        # The client went away (closed the viewer, logged off): not an error of the server.
        # Reset or broken pipe alike: which one a write meets depends on timing.
        log.debug("%s: the client left during the download", ctx.request.path)
    return response


async def image_read(ctx: Context, object_type: AuditObjectType) -> XRayRow:
    """The visible x-ray whose image is about to be sent, its read already committed to the
    trail: once a streamed body has started, nothing can be rolled back."""
    xray = await visible_xray(ctx, object_type)
    ctx.audit.record(object_type, xray.id, xray.user_id)
    await ctx.commit()
    return xray


@routes.get("/api/xrays/{xray_id}/image")
@endpoint(
    "The original image, exact bytes, with ETag and conditional GET",
    roles=ANY_USER,
    subject=AuditObjectType.xray_image,
    extra_responses={304: "Not modified"},
)
async def get_image(ctx: Context) -> web.StreamResponse:
    xray = await image_read(ctx, AuditObjectType.xray_image)
    path = ctx.request.app[STORAGE].original_path(xray.sha256)
    # The original is whatever the uploader sent: a browser saves it, never shows it inline.
    extension = {"image/png": "png", "image/jpeg": "jpg"}.get(xray.content_type, "dcm")
    disposition = f'attachment; filename="xray-{xray.id}.{extension}"'
    return await send_file(
        ctx, path, xray.content_type, f'"{xray.sha256}"', {"Content-Disposition": disposition}
    )


@routes.get("/api/xrays/{xray_id}/thumbnail")
@endpoint(
    "A small preview (longest side at most 256 px)",
    roles=ANY_USER,
    subject=AuditObjectType.xray_thumbnail,
    extra_responses={304: "Not modified"},
)
async def get_thumbnail(ctx: Context) -> web.StreamResponse:
    xray = await image_read(ctx, AuditObjectType.xray_thumbnail)
    path = await film_thumbnail(ctx, Film.of(xray))
    return await send_file(ctx, path, xray.thumbnail_type, f'"{xray.sha256}-thumbnail"')


async def film_thumbnail(ctx: Context, film: Film) -> Path:
    """Where a film's thumbnail is, made now if it is not yet (a native DICOM film's is made
    after its arrival)."""
    try:
        return await ctx.request.app[PIXEL_RENDERER].thumbnail(film)
    except ImageRejected as error:  # the file passed its checks on arrival, and fails now
        log.error("%s: the thumbnail cannot be made: %s", ctx.request.path, error)
        raise ApiError(f"The film's thumbnail cannot be made: {error}") from None
