"""What the radiograph viewer reads: display pixels, metadata, and the doctor's annotations."""

import asyncio
import json

from aiohttp import web
from sqlalchemy import select

from server.access import is_staff, result_visible
from server.api.xrays import image_read, send_file, visible_xray
from server.endpoint import ANY_USER, DOCTOR, Context, endpoint, json_response
from server.errors import Conflict
from server.keys import PIXEL_RENDERER, STORAGE
from server.orm import XRayAnnotationsRow, XRayRow
from server.pixelcache import Film
from shared.enums import AuditObjectType
from shared.imaging import (
    PIXEL_BITS_HEADER,
    PIXEL_OFFSET_HEADER,
    PIXEL_SCALE_HEADER,
    PixelTransform,
)
from shared.metadata import read_metadata
from shared.models import Annotation, AnnotationSet, AnnotationsUpdate, XRayMetadata

routes = web.RouteTableDef()
XRAY = AuditObjectType.xray


async def _transform(app: web.Application, xray: XRayRow) -> PixelTransform:
    """The display pixels' transform and statistics, rendering them on first use."""
    return await app[PIXEL_RENDERER].transform(Film.of(xray))


@routes.get("/api/xrays/{xray_id}/pixels")
@endpoint(
    "The display pixels after the modality LUT: grayscale PNG, 16-bit for deeper sources. "
    "Headers X-Pixel-Offset and X-Pixel-Scale give value = png_value * scale + offset",
    roles=ANY_USER,
    subject=AuditObjectType.xray_image,
    extra_responses={304: "Not modified"},
)
async def get_pixels(ctx: Context) -> web.StreamResponse:
    xray = await image_read(ctx, AuditObjectType.xray_image)
    store = ctx.request.app[STORAGE]
    transform = await _transform(ctx.request.app, xray)
    headers = {
        PIXEL_OFFSET_HEADER: repr(transform.offset),
        PIXEL_SCALE_HEADER: repr(transform.scale),
        PIXEL_BITS_HEADER: str(transform.bits),
    }
    path = store.pixels_path(xray.sha256)
    return await send_file(ctx, path, "image/png", f'"{xray.sha256}-pixels"', headers)


@routes.get("/api/xrays/{xray_id}/metadata")
@endpoint(
    "Size, depth, pixel spacing, window presets and DICOM tags (patient identifiers only for "
    "doctors and admins)",
    roles=ANY_USER,
    response=XRayMetadata,
    subject=XRAY,
)
async def get_metadata(ctx: Context) -> web.Response:
    xray = await visible_xray(ctx, XRAY)
    ctx.audit.record(XRAY, xray.id, xray.user_id)
    store = ctx.request.app[STORAGE]
    transform = await _transform(ctx.request.app, xray)
    metadata = await asyncio.to_thread(
        read_metadata,
        store.original_path(xray.sha256),
        xray.content_type,
        transform,
        is_staff(ctx.user),
    )
    return json_response(metadata)


def _annotation_set(row: XRayAnnotationsRow | None) -> AnnotationSet:
    if row is None:
        return AnnotationSet(annotations=[], author_id=None, updated_at=None)
    return AnnotationSet(
        annotations=[Annotation.model_validate(item) for item in json.loads(row.document)],
        calibration_mm_per_pixel=row.calibration_mm_per_pixel,
        author_id=row.author_id,
        updated_at=row.updated_at,
    )


async def _annotations_of(ctx: Context, xray: XRayRow) -> XRayAnnotationsRow | None:
    return await ctx.db.scalar(
        select(XRayAnnotationsRow).where(XRayAnnotationsRow.xray_id == xray.id)
    )


@routes.get("/api/xrays/{xray_id}/annotations")
@endpoint(
    "The doctor's measurements and marks, in image pixel coordinates (patients: once the "
    "result is final)",
    roles=ANY_USER,
    response=AnnotationSet,
    subject=XRAY,
)
async def get_annotations(ctx: Context) -> web.Response:
    xray = await visible_xray(ctx, XRAY)
    ctx.audit.record(XRAY, xray.id, xray.user_id)
    row = await _annotations_of(ctx, xray) if result_visible(ctx.user, xray) else None
    return json_response(_annotation_set(row))


@routes.put("/api/xrays/{xray_id}/annotations")
@endpoint(
    "Replace the measurements and marks of an x-ray (doctors; not once the result is signed)",
    roles=DOCTOR,
    body=AnnotationsUpdate,
    response=AnnotationSet,
    subject=XRAY,
    extra_responses={409: "The result is signed"},
)
async def put_annotations(ctx: Context) -> web.Response:
    xray = await visible_xray(ctx, XRAY)
    body = await ctx.json_body(AnnotationsUpdate)
    if xray.result_final:
        # What the patient was shown with the signed result does not change silently.
        raise Conflict("The result is signed; its marks can no longer be changed.")
    document = json.dumps([item.model_dump(exclude_none=True) for item in body.annotations])
    row = await _annotations_of(ctx, xray)
    if row is None:
        row = XRayAnnotationsRow(xray_id=xray.id, author_id=ctx.user.id, document=document)
        ctx.db.add(row)
    row.document = document
    row.author_id = ctx.user.id
    row.calibration_mm_per_pixel = body.calibration_mm_per_pixel
    row.updated_at = ctx.now
    await ctx.db.flush()
    ctx.audit.record(XRAY, xray.id, xray.user_id)
    return json_response(_annotation_set(row))
