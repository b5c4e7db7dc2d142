"""Receiving an x-ray upload: the multipart body streamed to a temporary file.

aiohttp's `client_max_size` does not guard `request.multipart()`, so the byte limit is enforced
here while reading; the memory used stays one chunk whatever the size of the upload.
"""

import asyncio
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from server.errors import BadRequest, PayloadTooLarge, invalid
from shared.imaging import HEAD_BYTES

CHUNK_BYTES = 256 * 1024
MAX_FIELD_BYTES = 64 * 1024


@dataclass(slots=True)
class ReceivedFile:
    path: Path
    size_bytes: int
    sha256: str
    head: bytes


@dataclass(slots=True)
class ReceivedUpload:
    fields: dict[str, str] = field(default_factory=dict)
    image: ReceivedFile | None = None


def too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The upload is larger than the {max_bytes} bytes allowed.")


def _write_chunk(handle: BinaryIO, digest: "hashlib._Hash", chunk: bytes) -> None:
    handle.write(chunk)
    digest.update(chunk)


async def _receive_file(
    request: web.Request, part: BodyPartReader, path: Path, max_bytes: int
) -> ReceivedFile:
    digest = hashlib.sha256()
    size = 0
    head = b""
    handle = await asyncio.to_thread(path.open, "wb")
    try:
        while chunk := await part.read_chunk(CHUNK_BYTES):
            if request.content.total_bytes > max_bytes:
                raise too_large(max_bytes)
            if len(head) < HEAD_BYTES:
                head += chunk[: HEAD_BYTES - len(head)]
            size += len(chunk)
            # Disk writes and hashing off the event loop, one chunk at a time.
            await asyncio.to_thread(_write_chunk, handle, digest, chunk)
    finally:
        await asyncio.to_thread(handle.close)
    return ReceivedFile(path=path, size_bytes=size, sha256=digest.hexdigest(), head=head)


async def _receive_field(request: web.Request, part: BodyPartReader, max_bytes: int) -> str:
    value = b""
    while chunk := await part.read_chunk(CHUNK_BYTES):
        if request.content.total_bytes > max_bytes:
            raise too_large(max_bytes)
        value += chunk
        if len(value) > MAX_FIELD_BYTES:
            raise invalid(part.name or "field", "The field is too long.")
    try:
        return value.decode(part.get_charset("utf-8"))
    except (UnicodeDecodeError, LookupError):
        raise invalid(part.name or "field", "The field is not valid UTF-8 text.") from None


async def receive_upload(request: web.Request, temp_path: Path, max_bytes: int) -> ReceivedUpload:
    """Read the whole multipart body: text fields into memory, the `image` part to
    `temp_path`. The caller removes `temp_path` whatever happens."""
    upload = ReceivedUpload()
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise BadRequest("Nested multipart bodies are not accepted.")
            if part.name == "image":
                if upload.image is not None:
                    raise invalid("image", "Send one image per upload.")
                upload.image = await _receive_file(request, part, temp_path, max_bytes)
            elif part.filename is None and part.name:
                upload.fields[part.name] = await _receive_field(request, part, max_bytes)
            else:
                # An unknown file part: read past it, still counting toward the limit.
                while await part.read_chunk(CHUNK_BYTES):
                    if request.content.total_bytes > max_bytes:
                        raise too_large(max_bytes)
    except HttpProcessingError:  # e.g. a control character in a part's header
        raise BadRequest("The multipart body is malformed (a part header is not valid).") from None
    except (ValueError, AssertionError, RuntimeError) as error:
        raise BadRequest(f"The multipart body is malformed ({error}).") from None
    if request.content.total_bytes > max_bytes:
        raise too_large(max_bytes)
    return upload
