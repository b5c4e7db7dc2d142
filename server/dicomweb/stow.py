"""STOW-RS: store instances (PS3.18 §10.5) through the one ingest path: each part validated,
thumbnailed, filed under the patient whose record number is its PatientID (else the unmatched
inbox) and committed before it is reported stored.

The body (at most MEDSYS_MAX_UPLOAD_BYTES, chunked or not) is split on its boundary as it
arrives, each part into a file of its own, and each part is examined and decoded as soon as it
is complete. The splitting is done here: aiohttp's multipart reader refuses boundaries over 70
characters, and Orthanc sends 73.
"""

import asyncio
import contextlib
import enum
import re
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from pydicom.dataset import Dataset

from server.audit import AuditTrail
from server.dicomweb.common import base_url, dicom_json
from server.endpoint import STAFF, Context, Declaration, endpoint
from server.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from server.ingest import Arrival, Received, StoredImage, drop_files, examine, store_image
from server.keys import ARRIVALS, DECODE_GATE, SESSIONMAKER, STORAGE
from server.uploads import ReceivedFile, ReceivingFile, body_stalled
from shared.enums import AuditAction, AuditObjectType
from shared.imaging import (
    DICOM,
    DicomIdentity,
    ImageRejected,
    sniff_content_type,
)

routes = web.RouteTableDef()
XRAY = AuditObjectType.xray
READ_CHUNK = 256 * 1024
SPILL_BYTES = 4 * 1024 * 1024  # a part's content held in memory before it is written
MAX_PART_HEADER_BYTES = 16 * 1024
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


async def _body_chunks(ctx: Context) -> AsyncIterator[bytes]:
    """The request body as it arrives (chunked or not), within the upload limit and the
    time a client may send nothing."""
    limit, idle = ctx.settings.max_upload_bytes, ctx.settings.body_timeout
    received = 0
    while True:
        try:
            async with asyncio.timeout(idle):
                chunk = await ctx.request.content.read(READ_CHUNK)
        except TimeoutError:
            raise body_stalled(idle) from None
        if not chunk:
            return
        received += len(chunk)
        if received > limit:
            raise PayloadTooLarge(f"The body is larger than the {limit} bytes allowed.")
        yield chunk


class _Splitting(enum.Enum):
    PREAMBLE = enum.auto()  # before the first delimiter
    DELIMITED = enum.auto()  # after a delimiter: the closing one ("--") or a part follows
    HEADERS = enum.auto()
    CONTENT = enum.auto()
    DONE = enum.auto()


async def received_parts(
    chunks: AsyncIterator[bytes], boundary: bytes, folder: Path
) -> AsyncGenerator[ReceivedFile, None]:
    """Each part of a multipart body, in a file of its own in `folder`, as soon as it has
    arrived: the first films are examined and decoded while the rest still streams in.
    BadRequest when the body ends inside a part."""
    opening = b"--" + boundary
    closing = b"\r\n" + opening  # ends a part's content
    buffer = bytearray()
    state = _Splitting.PREAMBLE
    part: ReceivingFile | None = None
    count = 0
    # How far the buffer is known not to hold what the current state looks for: a client that
    # sends a few bytes at a time must not make each search go over the whole buffer again.
    searched = 0
    try:
        async for chunk in chunks:
            buffer += chunk
            while buffer:
                if state is _Splitting.PREAMBLE:
                    found = buffer.find(opening)
                    if found == -1:
                        del buffer[: max(0, len(buffer) - len(opening) + 1)]
                        break
                    del buffer[: found + len(opening)]
                    state = _Splitting.DELIMITED
                elif state is _Splitting.DELIMITED:
                    if len(buffer) < 2:
                        break
                    state = _Splitting.DONE if buffer[:2] == b"--" else _Splitting.HEADERS
                elif state is _Splitting.HEADERS:
                    # From the delimiter's own line end: a part with no headers has none.
                    end = buffer.find(b"\r\n\r\n", searched)
                    if end == -1:
                        if len(buffer) > MAX_PART_HEADER_BYTES:
                            raise BadRequest("A part's headers are too long.")
                        searched = max(0, len(buffer) - 3)
                        break
                    del buffer[: end + 4]
                    searched = 0
                    part = ReceivingFile(folder / f"part-{count}", SPILL_BYTES)
                    count += 1
                    state = _Splitting.CONTENT
                elif state is _Splitting.CONTENT:
                    assert part is not None
                    found = buffer.find(closing, searched)
                    if found == -1:
                        # The last bytes may be the start of the delimiter: kept back.
                        searched = max(0, len(buffer) - len(closing) + 1)
                        if searched >= READ_CHUNK:  # handed over in pieces of a useful size
                            await part.add(bytes(buffer[:searched]))
                            del buffer[:searched]
                            searched = 0
                        break
                    await part.add(bytes(buffer[:found]))
                    del buffer[: found + len(closing)]
                    searched = 0
                    finished, part = part, None
                    yield await finished.finish()
                    state = _Splitting.DELIMITED
                else:  # the epilogue, ignored
                    buffer.clear()
        if state not in (_Splitting.DONE, _Splitting.PREAMBLE):
            raise BadRequest("The multipart body ends inside a part.")
    finally:
        if part is not None:
            await asyncio.to_thread(part.close)


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


async def _prepare_part(ctx: Context, part: ReceivedFile, study: str | None) -> _Prepared | Outcome:
    """Everything before the database: check, decode, thumbnail and place the part."""
    app = ctx.request.app
    store, gate, limits = app[STORAGE], app[DECODE_GATE], ctx.settings.image_limits
    try:
        if sniff_content_type(part.head) != DICOM:
            raise ImageRejected("The part is not a DICOM file.")
        header, stored = await examine(store, gate, limits, part.path, DICOM, part.sha256)
    except ImageRejected as error:
        return _reason(error), None
    identity = header.identity
    if (
        identity is None
        or not (identity.sop_instance_uid and identity.study_instance_uid)
        or (study is not None and identity.study_instance_uid != study)
    ):
        if stored is not None:  # placed with its header: it goes again
            await drop_files(app[SESSIONMAKER], store, part.sha256, stored)
        return WRONG_STUDY, identity
    if stored is None:
        try:
            stored = await store_image(
                store, gate, limits, part.path, part.head, part.sha256, header
            )
        except ImageRejected as error:
            return _reason(error), identity
    arrival = Arrival(part.path, part.head, part.sha256, part.size_bytes, "STOW-RS", ctx.user.id)
    return _Prepared(identity, arrival, stored)


async def _prepare_in_turn(
    ctx: Context, part: ReceivedFile, study: str | None, preparing: asyncio.Semaphore
) -> _Prepared | Outcome:
    async with preparing:
        return await _prepare_part(ctx, part, study)


async def _file_part(ctx: Context, preparing: "asyncio.Task[_Prepared | Outcome]") -> Outcome:
    """File a prepared part with the films arriving meanwhile (the arrival group commit);
    reported stored only once committed."""
    prepared = await preparing
    if not isinstance(prepared, _Prepared):
        return prepared
    audit = AuditTrail(
        ip=ctx.audit.ip, action=AuditAction.create, subject=None, actor_id=ctx.user.id
    )
    await ctx.request.app[ARRIVALS].file(Received(prepared.stored, prepared.arrival, audit))
    return 0, prepared.identity


async def _file_parts(
    ctx: Context, preparing: "list[asyncio.Task[_Prepared | Outcome]]"
) -> list[Outcome]:
    """Every part filed as soon as it is prepared. Each is let finish even when another
    fails, so none is left half done; then the first failure is raised."""
    results = await asyncio.gather(
        *(_file_part(ctx, task) for task in preparing), return_exceptions=True
    )
    outcomes: list[Outcome] = []
    for result in results:
        if isinstance(result, BaseException):
            raise result
        outcomes.append(result)
    return outcomes


async def _discard_parts(
    ctx: Context, preparing: "list[asyncio.Task[_Prepared | Outcome]]"
) -> None:
    """The body failed after some parts were prepared: none is filed, and the files they
    placed go (unless a committed film has the same content)."""
    results = await asyncio.gather(*preparing, return_exceptions=True)
    for result in results:
        if isinstance(result, _Prepared):
            app = ctx.request.app
            await drop_files(app[SESSIONMAKER], app[STORAGE], result.arrival.sha256, result.stored)


async def store_instances(ctx: Context, study: str | None) -> web.Response:
    boundary = boundary_of(ctx.request.headers.get("Content-Type", ""))
    await ctx.db.commit()  # hand the connection back while the body streams in
    folder = ctx.request.app[STORAGE].new_temp_path()
    await asyncio.to_thread(folder.mkdir)
    # Parts are decoded and thumbnailed (PREPARED_AT_ONCE at a time, in the decode gate's
    # turn) while the body still arrives; none is filed before the whole body has.
    in_turn = asyncio.Semaphore(PREPARED_AT_ONCE)
    preparing: list[asyncio.Task[_Prepared | Outcome]] = []
    try:
        try:
            parts = received_parts(_body_chunks(ctx), boundary, folder)
            async with contextlib.aclosing(parts):
                async for part in parts:
                    preparing.append(
                        asyncio.create_task(_prepare_in_turn(ctx, part, study, in_turn))
                    )
        except BaseException:
            await _discard_parts(ctx, preparing)
            raise
        if not preparing:
            raise BadRequest("The body holds no part.")
        outcomes = await _file_parts(ctx, preparing)
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
