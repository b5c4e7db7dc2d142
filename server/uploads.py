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


class ReceivingFile:
    """A file's content on its way to disk, hashed as it goes: held in memory up to
    `hold_bytes`, then written and hashed in a thread (0: each piece as it comes). A STOW-RS
    part of half a megabyte then costs one trip to a thread."""

    def __init__(self, path: Path, hold_bytes: int = 0) -> None:
        self.path = path
        self._hold_bytes = hold_bytes
        self._handle: BinaryIO | None = None
        self._digest = hashlib.sha256()
        self._held: list[bytes] = []
        self._held_bytes = 0
        self._size = 0
        self._head = b""

    async def add(self, data: bytes) -> None:
        if len(self._head) < HEAD_BYTES:
            self._head += data[: HEAD_BYTES - len(self._head)]
        self._held.append(data)
        self._held_bytes += len(data)
        self._size += len(data)
        if self._held_bytes >= self._hold_bytes:
            await asyncio.to_thread(self._write, self._take())

    def _take(self) -> list[bytes]:
        held, self._held, self._held_bytes = self._held, [], 0
        return held

    def _write(self, held: list[bytes]) -> None:
        if self._handle is None:
            self._handle = self.path.open("wb")
        for data in held:
            self._handle.write(data)
            self._digest.update(data)

    def _write_and_close(self, held: list[bytes]) -> None:
        self._write(held)
        self.close()

    async def finish(self) -> ReceivedFile:
        await asyncio.to_thread(self._write_and_close, self._take())
        return ReceivedFile(self.path, self._size, self._digest.hexdigest(), self._head)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


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
    # Disk writes and hashing off the event loop, one chunk at a time.
    receiving = ReceivingFile(path)
    try:
        while chunk := await body.chunk(part):
            await receiving.add(chunk)
        return await receiving.finish()
    finally:
        await asyncio.to_thread(receiving.close)


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
