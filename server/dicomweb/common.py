"""What QIDO-RS, WADO-RS and STOW-RS share: the x-rays the caller may see, each as the DICOM
instance it is served as, absolute URLs, and DICOM JSON answers.

Every x-ray is one instance of one series of one study (its own UIDs). A served instance says
PatientID = its patient's medical record number (the stored bytes are not changed); a PNG or
JPEG is served as a Secondary Capture instance built from its pixels with its kept UIDs.
"""

import io
import json
import secrets
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from aiohttp import web
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian
from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from server.endpoint import Context
from server.errors import ApiError
from server.keys import STORAGE
from server.orm import XRayRow
from shared.enums import UserType
from shared.imaging import DICOM

DICOM_JSON = "application/dicom+json"  # exactly: dicomweb-client compares it whole


class NotAcceptable(ApiError):
    """No representation in a media type or transfer syntax the client accepts."""

    status = 406


def visible_xrays(ctx: Context) -> Select[Any]:
    """Live x-rays the caller may read: a patient's own, every one for staff."""
    statement = select(XRayRow).where(XRayRow.live()).options(selectinload(XRayRow.patient))
    if ctx.user.usertype == UserType.patient:
        statement = statement.where(XRayRow.user_id == ctx.user.id)
    return statement.order_by(XRayRow.id)


def base_url(ctx: Context) -> str:
    """Where clients reach /dicomweb: MEDSYS_PUBLIC_URL, else the request's scheme and host
    with the port the server listens on (some clients send Host without it)."""
    public = ctx.settings.public_url
    if public:
        return f"{public.rstrip('/')}/dicomweb"
    request = ctx.request
    host = request.host
    if not host.endswith("]") and ":" not in host:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        if sockname:
            host = f"{host}:{sockname[1]}"
    return f"{request.scheme}://{host}/dicomweb"


def instance_url(ctx: Context, xray: XRayRow) -> str:
    return (
        f"{base_url(ctx)}/studies/{xray.study_instance_uid}/series/{xray.series_instance_uid}"
        f"/instances/{xray.sop_instance_uid}"
    )


def dicom_name(full_name: str) -> str:
    """A person's name as DICOM writes it: "Paula Patient" → "Patient^Paula"."""
    given, _, family = full_name.strip().rpartition(" ")
    return f"{family}^{given}" if given else family


def served_dataset(ctx: Context, xray: XRayRow, with_pixels: bool = True) -> Dataset:
    """The instance as it is served (blocking: call in a thread)."""
    path = ctx.request.app[STORAGE].original_path(xray.sha256)
    dataset: Dataset
    if xray.content_type == DICOM:
        dataset = pydicom.dcmread(path, stop_before_pixels=not with_pixels)
    else:
        dataset = _secondary_capture(xray, path, with_pixels)
    dataset.PatientID = xray.patient.record_number or ""
    return dataset


def _secondary_capture(xray: XRayRow, path: Path, with_pixels: bool) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(xray.sop_class_uid)
    meta.MediaStorageSOPInstanceUID = UID(xray.sop_instance_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = xray.sop_class_uid
    dataset.SOPInstanceUID = xray.sop_instance_uid
    dataset.StudyInstanceUID = xray.study_instance_uid
    dataset.SeriesInstanceUID = xray.series_instance_uid
    dataset.Modality = xray.modality or "OT"
    dataset.ConversionType = "WSD"
    dataset.StudyDate = xray.study_date.strftime("%Y%m%d") if xray.study_date else ""
    dataset.PatientName = dicom_name(xray.patient.full_name)
    dataset.SeriesDescription = xray.name_of_xray
    dataset.InstanceNumber = 1
    dataset.SeriesNumber = 1
    with Image.open(path) as image:
        color = image.mode not in ("1", "L", "I", "I;16", "I;16B", "I;16L", "I;16N", "P")
        pixels = np.asarray(image.convert("RGB" if color else "L")) if with_pixels else None
        dataset.Rows, dataset.Columns = image.height, image.width
    dataset.SamplesPerPixel = 3 if color else 1
    dataset.PhotometricInterpretation = "RGB" if color else "MONOCHROME2"
    if color:
        dataset.PlanarConfiguration = 0
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 8, 8, 7
    dataset.PixelRepresentation = 0
    if pixels is not None:
        dataset.PixelData = pixels.tobytes()
    return dataset


def encoded(dataset: Dataset) -> bytes:
    """A dataset as a DICOM Part 10 file, in its file meta's transfer syntax."""
    buffer = io.BytesIO()
    syntax = dataset.file_meta.TransferSyntaxUID
    dataset.save_as(
        buffer,
        enforce_file_format=True,
        implicit_vr=syntax.is_implicit_VR,
        little_endian=syntax.is_little_endian,
    )
    return buffer.getvalue()


def dicom_json(items: list[dict[str, Any]] | dict[str, Any], status: int = 200) -> web.Response:
    response = web.Response(status=status, body=json.dumps(items).encode())
    # Set whole, with no charset: dicomweb-client compares the media type exactly.
    response.headers["Content-Type"] = DICOM_JSON
    return response


def multipart(parts: list[tuple[str, bytes]], part_type: str) -> web.Response:
    """multipart/related of (content type, body) parts, with a random boundary that no part
    holds."""
    while True:
        boundary = secrets.token_hex(16)
        marker = f"--{boundary}".encode()
        if not any(marker in body for _type, body in parts):
            break
    chunks = []
    for content_type, body in parts:
        chunks += [marker, b"\r\nContent-Type: ", content_type.encode(), b"\r\n\r\n", body, b"\r\n"]
    chunks += [marker, b"--\r\n"]
    response = web.Response(body=b"".join(chunks))
    response.headers["Content-Type"] = f'multipart/related; type="{part_type}"; boundary={boundary}'
    return response


# A browser viewer (OHIF) on another origin reads /dicomweb with a Bearer token: no cookies,
# so any origin may ask; `Accept` is allowed because WADO-RS negotiates with it.
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Accept, Content-Type",
    "Access-Control-Expose-Headers": "Content-Type, Content-Length",
    "Access-Control-Max-Age": "600",
}


async def cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every /dicomweb answer, errors too, carries the CORS headers."""
    if request.path.startswith("/dicomweb"):
        response.headers.update(CORS_HEADERS)
