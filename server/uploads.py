"""Receiving an x-ray upload: the multipart body streamed to a temporary file.

aiohttp's `client_max_size` does not guard `request.multipart()`, so the byte limit is enforced
here while reading; the memory used stays one chunk whatever the size of the upload.
"""

import asyncio
import hashlib
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TypeVar

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from server.errors import BadRequest, PayloadTooLarge, RequestTimeout, invalid
from shared.imaging import HEAD_BYTES

T = TypeVar("T")
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


@dataclass(frozen=True, slots=True)
class _Body:
    """The request whose multipart body is read, with its limits: total bytes, and how long
    the client may send nothing (a stalled client must not hold its upload slot forever)."""

    request: web.Request
    max_bytes: int
    idle_seconds: float

    async def _within_idle_time(self, read: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self.idle_seconds):
                return await read
        except TimeoutError:
            raise body_stalled(self.idle_seconds) from None

    async def chunk(self, part: BodyPartReader) -> bytes:
        chunk = await self._within_idle_time(part.read_chunk(CHUNK_BYTES))
        if self.request.content.total_bytes > self.max_bytes:
            raise too_large(self.max_bytes)
        return chunk

    async def next_part(self, reader: MultipartReader) -> object:
        return await self._within_idle_time(reader.next())


def body_stalled(idle_seconds: float) -> RequestTimeout:
    return RequestTimeout(f"The request body stopped arriving for {idle_seconds:g} s.")


async def _receive_file(body: _Body, part: BodyPartReader, path: Path) -> ReceivedFile:
    digest = hashlib.sha256()
    size = 0
    head = b""
    handle = await asyncio.to_thread(path.open, "wb")
    try:
        while chunk := await body.chunk(part):
            if len(head) < HEAD_BYTES:
                head += chunk[: HEAD_BYTES - len(head)]
            size += len(chunk)
            # Disk writes and hashing off the event loop, one chunk at a time.
            await asyncio.to_thread(_write_chunk, handle, digest, chunk)
    finally:
        await asyncio.to_thread(handle.close)
    return ReceivedFile(path=path, size_bytes=size, sha256=digest.hexdigest(), head=head)


async def _receive_field(body: _Body, part: BodyPartReader) -> str:
    value = b""
    while chunk := await body.chunk(part):
        value += chunk
        if len(value) > MAX_FIELD_BYTES:
            raise invalid(part.name or "field", "The field is too long.")
    try:
        return value.decode(part.get_charset("utf-8"))
    except (UnicodeDecodeError, LookupError):
        raise invalid(part.name or "field", "The field is not valid UTF-8 text.") from None


async def receive_upload(
    request: web.Request, temp_path: Path, max_bytes: int, idle_seconds: float
) -> ReceivedUpload:
    """Read the whole multipart body: text fields into memory, the `image` part to
    `temp_path`. The caller removes `temp_path` whatever happens."""
    upload = ReceivedUpload()
    body = _Body(request, max_bytes, idle_seconds)
    try:
        reader = await request.multipart()
        while (part := await body.next_part(reader)) is not None:
            if not isinstance(part, BodyPartReader):
                raise BadRequest("Nested multipart bodies are not accepted.")
            if part.name == "image":
                if upload.image is not None:
                    raise invalid("image", "Send one image per upload.")
                upload.image = await _receive_file(body, part, temp_path)
            elif part.filename is None and part.name:
                upload.fields[part.name] = await _receive_field(body, part)
            else:
                # An unknown file part: read past it, still counting toward the limit.
                while await body.chunk(part):
                    pass
    except HttpProcessingError:  # e.g. a control character in a part's header
        raise BadRequest("The multipart body is malformed (a part header is not valid).") from None
    except (ValueError, AssertionError, RuntimeError) as error:
        raise BadRequest(f"The multipart body is malformed ({error}).") from None
    if request.content.total_bytes > max_bytes:
        raise too_large(max_bytes)
    return upload
