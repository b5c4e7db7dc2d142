"""WADO-RS: retrieve studies, series and instances (multipart/related application/dicom), their
metadata (DICOM JSON, pixel data as a BulkDataURI), frames and rendered images (PS3.18 §10.4)."""

import asyncio
import io
from contextlib import AbstractAsyncContextManager
from typing import Any

import numpy as np
from aiohttp import web
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.pixels.utils import pixel_array
from pydicom.uid import UID, ExplicitVRLittleEndian

from server.dicomweb.common import (
    NotAcceptable,
    dicom_json,
    encoded,
    instance_url,
    multipart,
    served_dataset,
    visible_xrays,
)
from server.endpoint import ANY_USER, Context, Declaration, endpoint
from server.errors import BadRequest, NotFound
from server.keys import DECODE_GATE, STORAGE
from server.orm import XRayRow
from shared.enums import AuditObjectType
from shared.imaging import read_header
from shared.windowing import robust_range

routes = web.RouteTableDef()
XRAY = AuditObjectType.xray
IMAGE = AuditObjectType.xray_image
NOTHING = "There is no such study, series or instance (or it is not yours to see)."


async def chosen(ctx: Context) -> list[XRayRow]:
    """The visible x-rays the path names (a study, a series or an instance); 404 if none."""
    info = ctx.request.match_info
    statement = visible_xrays(ctx).where(XRayRow.study_instance_uid == info["study"])
    if "series" in info:
        statement = statement.where(XRayRow.series_instance_uid == info["series"])
    if "instance" in info:
        statement = statement.where(XRayRow.sop_instance_uid == info["instance"])
    xrays: list[XRayRow] = list((await ctx.db.scalars(statement)).all())
    if not xrays:
        raise NotFound(NOTHING)
    return xrays


def asked_syntax(accept: str) -> str | None:
    """The transfer syntax the Accept header asks for: "*", a UID, or None (no preference)."""
    for media_range in accept.split(","):
        for parameter in media_range.split(";")[1:]:
            name, _, value = parameter.strip().partition("=")
            if name.strip().lower() == "transfer-syntax":
                return value.strip().strip('"')
    return None


def in_syntax(dataset: Dataset, wanted: str | None) -> Dataset:
    """The dataset in the asked transfer syntax: stored for "*", else Explicit VR Little
    Endian (decompressed if need be); another asked syntax → 406."""
    stored = UID(dataset.file_meta.TransferSyntaxUID)
    if wanted == "*" or wanted == stored:
        return dataset
    if wanted not in (None, ExplicitVRLittleEndian):
        raise NotAcceptable(
            f"This instance is served as {stored.name}, or as Explicit VR Little Endian."
        )
    if stored.is_compressed:
        dataset.decompress()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return dataset


async def _decoding(
    ctx: Context, xrays: list[XRayRow], frames: int = 1
) -> AbstractAsyncContextManager[None]:
    """The decode gate's admission for decoding `frames` frames of each of `xrays`: their
    decoded size, read from their headers, counts against the process's decoding budget like
    an upload's or a render's."""
    store = ctx.request.app[STORAGE]

    def cost() -> int:
        paths = [(store.original_path(xray.sha256), xray.content_type) for xray in xrays]
        return sum(read_header(path, kind).decode_bytes for path, kind in paths) * frames

    return ctx.request.app[DECODE_GATE].admit(await asyncio.to_thread(cost))


async def _retrieve(ctx: Context) -> web.Response:
    xrays = await chosen(ctx)
    wanted = asked_syntax(ctx.request.headers.get("Accept", ""))

    def parts() -> list[tuple[str, bytes]]:
        result = []
        for xray in xrays:
            dataset = in_syntax(served_dataset(ctx, xray), wanted)
            syntax = dataset.file_meta.TransferSyntaxUID
            result.append((f"application/dicom; transfer-syntax={syntax}", encoded(dataset)))
        return result

    async with await _decoding(ctx, xrays):  # a compressed instance is decompressed
        answer = await asyncio.to_thread(parts)
    for xray in xrays:
        ctx.audit.record(IMAGE, xray.id, xray.user_id)
    return multipart(answer, "application/dicom")


def metadata_of(ctx: Context, xray: XRayRow) -> dict[str, Any]:
    dataset = served_dataset(ctx, xray, with_pixels=False)
    item: dict[str, Any] = dataset.to_json_dict(bulk_data_threshold=1 << 30)
    item["00020010"] = {"vr": "UI", "Value": [str(dataset.file_meta.TransferSyntaxUID)]}
    item["7FE00010"] = {"vr": "OW", "BulkDataURI": f"{instance_url(ctx, xray)}/frames/1"}
    return item


async def _metadata(ctx: Context) -> web.Response:
    xrays = await chosen(ctx)
    items = await asyncio.to_thread(lambda: [metadata_of(ctx, xray) for xray in xrays])
    for xray in xrays:
        ctx.audit.record(XRAY, xray.id, xray.user_id)
    return dicom_json(items)


def _declare(summary: str, extra: dict[int, str] | None = None) -> Declaration:
    return endpoint(
        summary, roles=ANY_USER, subject=IMAGE, extra_responses={404: NOTHING, **(extra or {})}
    )


STUDY = "/dicomweb/studies/{study}"
SERIES = f"{STUDY}/series/{{series}}"
INSTANCE = f"{SERIES}/instances/{{instance}}"
NOT_ACCEPTABLE = {406: "A transfer syntax medsys does not serve"}

for path, what in ((STUDY, "a study"), (SERIES, "a series"), (INSTANCE, "an instance")):
    routes.get(path)(
        _declare(f"WADO-RS: retrieve {what} (multipart/related application/dicom)", NOT_ACCEPTABLE)(
            _retrieve
        )
    )
    routes.get(f"{path}/metadata")(
        _declare(f"WADO-RS: the metadata of {what} (application/dicom+json)")(_metadata)
    )


@routes.get(f"{INSTANCE}/frames/{{frames}}")
@_declare("WADO-RS: frames of an instance (multipart/related application/octet-stream)")
async def get_frames(ctx: Context) -> web.Response:
    xray = (await chosen(ctx))[0]
    raw = ctx.request.match_info["frames"].split(",")
    if not all(number.isdigit() and int(number) >= 1 for number in raw):
        raise BadRequest("Frames are numbered from 1: frames/1 or frames/1,2.")
    numbers = [int(number) for number in raw]

    def frames() -> list[tuple[str, bytes]]:
        dataset = served_dataset(ctx, xray)
        count = int(dataset.get("NumberOfFrames", 1) or 1)
        if max(numbers) > count:
            raise NotFound(f"This instance has {count} frame(s).")
        result = []
        for number in numbers:
            frame = pixel_array(dataset, index=number - 1)
            little = frame.astype(frame.dtype.newbyteorder("<"), copy=False)
            result.append(("application/octet-stream", little.tobytes()))
        return result

    async with await _decoding(ctx, [xray], frames=len(numbers)):
        answer = await asyncio.to_thread(frames)
    ctx.audit.record(IMAGE, xray.id, xray.user_id)
    return multipart(answer, "application/octet-stream")


@routes.get(f"{INSTANCE}/rendered")
@_declare("WADO-RS: an instance rendered as image/jpeg (default) or image/png", NOT_ACCEPTABLE)
async def get_rendered(ctx: Context) -> web.Response:
    xray = (await chosen(ctx))[0]
    accept = ctx.request.headers.get("Accept", "image/jpeg")
    media = "image/png" if "image/png" in accept and "image/jpeg" not in accept else "image/jpeg"
    if not any(kind in accept for kind in ("image/jpeg", "image/png", "image/*", "*/*")):
        raise NotAcceptable("Rendered images are image/jpeg or image/png.")
    window = _window(ctx.request.query.get("window"))

    def render() -> bytes:
        dataset = served_dataset(ctx, xray)
        values = pixel_array(dataset, index=0).astype(np.float32)
        if values.ndim == 2:
            low, high = window if window else robust_range(values)
            scaled = np.clip((values - low) / max(high - low, 1e-6) * 255, 0, 255)
            image = Image.fromarray(scaled.astype(np.uint8), "L")
        else:
            image = Image.fromarray(values.astype(np.uint8))
        buffer = io.BytesIO()
        image.save(buffer, "PNG" if media == "image/png" else "JPEG", quality=90)
        return buffer.getvalue()

    async with await _decoding(ctx, [xray]):
        body = await asyncio.to_thread(render)
    ctx.audit.record(IMAGE, xray.id, xray.user_id)
    return web.Response(body=body, content_type=media)


def _window(raw: str | None) -> tuple[float, float] | None:
    """`window=center,width,linear` as (low, high)."""
    if raw is None:
        return None
    parts = raw.split(",")
    try:
        center, width = float(parts[0]), float(parts[1])
    except (ValueError, IndexError):
        raise BadRequest("window is center,width,function (linear).") from None
    if width <= 0 or (len(parts) > 2 and parts[2].strip().lower() not in ("linear", "")):
        raise BadRequest("window is center,width,function (linear), with a positive width.")
    return center - width / 2, center + width / 2
