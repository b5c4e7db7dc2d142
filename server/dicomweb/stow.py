"""STOW-RS: store instances (PS3.18 §10.5) through the one ingest path: each part validated,
thumbnailed, filed under the patient whose record number is its PatientID (else the unmatched
inbox) and committed before it is reported stored.

The body is read to a temporary file (at most MEDSYS_MAX_UPLOAD_BYTES, chunked or not), then
split on its boundary here: aiohttp's multipart reader refuses boundaries over 70 characters,
and Orthanc sends 73.
"""

import asyncio
import hashlib
import mmap
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from pydicom.dataset import Dataset

from server.audit import AuditTrail
from server.dicomweb.common import base_url, dicom_json
from server.endpoint import STAFF, Context, Declaration, endpoint
from server.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from server.ingest import Arrival, Received, StoredImage, store_image
from server.keys import ARRIVALS, DECODE_GATE, STORAGE
from shared.enums import AuditAction, AuditObjectType
from shared.imaging import (
    DICOM,
    HEAD_BYTES,
    DicomIdentity,
    ImageHeader,
    ImageRejected,
    read_header,
    sniff_content_type,
)

routes = web.RouteTableDef()
XRAY = AuditObjectType.xray
READ_CHUNK = 256 * 1024
# Parts of one request being decoded and thumbnailed (or waiting in the decode gate) at once.
PREPARED_AT_ONCE = 8
BOUNDARY = re.compile(r'boundary=(?:"([^"]{1,200})"|([^";,\s]{1,200}))', re.IGNORECASE)
# Failure reasons (PS3.4 C.4.2.1.5 and PS3.18's table): the codes viewers understand.
UNREADABLE, WRONG_STUDY, NO_PIXELS, UNDECODABLE, TOO_LARGE = 0xC000, 0xA900, 0x0122, 0xC122, 0xA700


def boundary_of(content_type: str) -> bytes:
    if not content_type.lower().startswith("multipart/related"):
        raise UnsupportedMediaType('STOW-RS takes multipart/related; type="application/dicom".')
    found = BOUNDARY.search(content_type)
    if found is None:
        raise BadRequest("The multipart body names no boundary.")
    return (found.group(1) or found.group(2)).encode()


async def _read_body(ctx: Context, path: Path) -> None:
    limit = ctx.settings.max_upload_bytes
    received = 0
    with await asyncio.to_thread(path.open, "wb") as handle:
        while True:
            async with asyncio.timeout(ctx.settings.body_timeout):
                chunk = await ctx.request.content.read(READ_CHUNK)
            if not chunk:
                return
            received += len(chunk)
            if received > limit:
                raise PayloadTooLarge(f"The body is larger than the {limit} bytes allowed.")
            await asyncio.to_thread(handle.write, chunk)


def split_parts(path: Path, boundary: bytes, folder: Path) -> list[Path]:
    """Each part's content written to a file of its own (blocking)."""
    marker = b"--" + boundary
    parts: list[Path] = []
    with path.open("rb") as handle:
        if path.stat().st_size == 0:
            return parts
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as body:
            position = body.find(marker)
            while position != -1:
                start = position + len(marker)
                if body[start : start + 2] == b"--":
                    break  # the closing delimiter
                headers_end = body.find(b"\r\n\r\n", start)
                following = body.find(b"\r\n" + marker, headers_end)
                if headers_end == -1 or following == -1:
                    raise BadRequest("The multipart body ends inside a part.")
                part = folder / f"part-{len(parts)}"
                part.write_bytes(body[headers_end + 4 : following])
                parts.append(part)
                position = following + 2
    return parts


def _reason(error: ImageRejected) -> int:
    text = str(error)
    if "no pixel data" in text:
        return NO_PIXELS
    if "cannot be decoded" in text:
        return UNDECODABLE
    if "allowed" in text:
        return TOO_LARGE
    return UNREADABLE


@dataclass(slots=True)
class _Prepared:
    """A part checked, thumbnailed and placed in storage, waiting to be filed."""

    identity: DicomIdentity
    arrival: Arrival
    stored: StoredImage


Outcome = tuple[int, Any]  # (0, the stored instance's UIDs) or (a failure reason, the UIDs it had)


async def _prepare_part(ctx: Context, part: Path, study: str | None) -> _Prepared | Outcome:
    """Everything before the database: read, check, decode, thumbnail and place the part."""
    app = ctx.request.app
    try:
        data_head, header, sha256, size = await asyncio.to_thread(_examine, part)
    except ImageRejected as error:
        return _reason(error), None
    identity = header.identity
    if identity is None or not (identity.sop_instance_uid and identity.study_instance_uid):
        return WRONG_STUDY, identity
    if study is not None and identity.study_instance_uid != study:
        return WRONG_STUDY, identity
    try:
        stored = await store_image(
            app[STORAGE],
            app[DECODE_GATE],
            ctx.settings.image_limits,
            part,
            data_head,
            sha256,
            header,
        )
    except ImageRejected as error:
        return _reason(error), identity
    arrival = Arrival(part, data_head, sha256, size, "STOW-RS", ctx.user.id)
    return _Prepared(identity, arrival, stored)


async def _store_part(
    ctx: Context, part: Path, study: str | None, preparing: asyncio.Semaphore
) -> Outcome:
    """Prepare a part (in its turn), then file it with the films arriving meanwhile (the
    arrival group commit); reported stored only once committed."""
    async with preparing:
        prepared = await _prepare_part(ctx, part, study)
    if not isinstance(prepared, _Prepared):
        return prepared
    audit = AuditTrail(
        ip=ctx.audit.ip, action=AuditAction.create, subject=None, actor_id=ctx.user.id
    )
    await ctx.request.app[ARRIVALS].file(Received(prepared.stored, prepared.arrival, audit))
    return 0, prepared.identity


async def _store_parts(ctx: Context, parts: list[Path], study: str | None) -> list[Outcome]:
    """Every part at once: up to PREPARED_AT_ONCE decoded and thumbnailed (in the decode
    gate's turn) while the others wait or are filed. Each part is let finish even when
    another fails, so none is left half done; then the first failure is raised."""
    preparing = asyncio.Semaphore(PREPARED_AT_ONCE)
    results = await asyncio.gather(
        *(_store_part(ctx, part, study, preparing) for part in parts), return_exceptions=True
    )
    outcomes: list[Outcome] = []
    for result in results:
        if isinstance(result, BaseException):
            raise result
        outcomes.append(result)
    return outcomes


def _examine(part: Path) -> tuple[bytes, ImageHeader, str, int]:
    """A part's first bytes, DICOM header, sha256 and size, in one trip to a thread.
    ImageRejected when it is not a readable DICOM file."""
    with part.open("rb") as handle:
        data_head = handle.read(HEAD_BYTES)
    if sniff_content_type(data_head) != DICOM:
        raise ImageRejected("The part is not a DICOM file.")
    header = read_header(part, DICOM)
    sha256, size = _hash(part)
    return data_head, header, sha256, size


def _hash(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(READ_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


async def store_instances(ctx: Context, study: str | None) -> web.Response:
    boundary = boundary_of(ctx.request.headers.get("Content-Type", ""))
    await ctx.db.commit()  # hand the connection back while the body streams in
    folder = ctx.request.app[STORAGE].new_temp_path()
    await asyncio.to_thread(folder.mkdir)
    try:
        body = folder / "body"
        await _read_body(ctx, body)
        parts = await asyncio.to_thread(split_parts, body, boundary, folder)
        await asyncio.to_thread(body.unlink)
        if not parts:
            raise BadRequest("The body holds no part.")
        outcomes = await _store_parts(ctx, parts, study)
    finally:
        await asyncio.to_thread(_remove_folder, folder)
    return _answer(ctx, outcomes)


def _remove_folder(folder: Path) -> None:
    for path in folder.glob("*"):
        path.unlink(missing_ok=True)
    folder.rmdir()


def _answer(ctx: Context, outcomes: list[Outcome]) -> web.Response:
    stored, failed = [], []
    for reason, identity in outcomes:
        item = Dataset()
        item.ReferencedSOPClassUID = (identity.sop_class_uid if identity else None) or ""
        item.ReferencedSOPInstanceUID = (identity.sop_instance_uid if identity else None) or ""
        if reason == 0:
            item.RetrieveURL = (
                f"{base_url(ctx)}/studies/{identity.study_instance_uid}/series/"
                f"{identity.series_instance_uid}/instances/{identity.sop_instance_uid}"
            )
            stored.append(item)
        else:
            item.FailureReason = reason
            failed.append(item)
    answer = Dataset()
    if stored:
        answer.ReferencedSOPSequence = stored
    if failed:
        answer.FailedSOPSequence = failed
    status = 200 if not failed else 202 if stored else 409
    # One object, not an array: dicomweb-client (and Orthanc) read the answer as one dataset.
    return dicom_json(answer.to_json_dict(), status=status)


def _declare(summary: str) -> Declaration:
    return endpoint(
        summary,
        roles=STAFF,
        subject=XRAY,
        extra_responses={
            202: "Some instances were stored, some failed",
            409: "No instance was stored",
            413: "Body too large",
            415: "Not multipart/related",
        },
    )


@routes.post("/dicomweb/studies")
@_declare("STOW-RS: store instances (multipart/related application/dicom; doctors, admins)")
async def stow(ctx: Context) -> web.Response:
    return await store_instances(ctx, None)


@routes.post("/dicomweb/studies/{study}")
@_declare("STOW-RS: store instances of one study")
async def stow_study(ctx: Context) -> web.Response:
    return await store_instances(ctx, ctx.request.match_info["study"])
