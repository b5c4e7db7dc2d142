"""Turning a received file into a stored x-ray image: validate, thumbnail, place.

Used by the upload endpoint and by the demo seed, so both store images the same way.
"""

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from server.decoding import DecodeGate
from server.imaging import ImageLimits, write_thumbnail
from server.storage import ImageStore
from shared.imaging import JPEG, ImageHeader, ImageRejected, read_header, sniff_content_type


@dataclass(slots=True)
class StoredImage:
    header: ImageHeader
    thumbnail_type: str
    # Files this call created; to be removed if the database row is not committed after all.
    created: list[Path] = field(default_factory=list)


def image_columns(stored: StoredImage, sha256: str, size_bytes: int) -> dict[str, object]:
    """The x-ray row's columns that describe its stored image (upload and demo seed alike)."""
    return {
        "content_type": stored.header.content_type,
        "width": stored.header.width,
        "height": stored.header.height,
        "size_bytes": size_bytes,
        "sha256": sha256,
        "thumbnail_type": stored.thumbnail_type,
    }


async def store_image(
    store: ImageStore,
    gate: DecodeGate,
    limits: ImageLimits,
    temp_path: Path,
    head: bytes,
    sha256: str,
) -> StoredImage:
    """Check `temp_path`'s header against the limits, decode it (when the gate admits it) to
    validate it and write its thumbnail, and move both to their content addresses. Raises
    ImageRejected; nothing is left in storage if this raises."""
    content_type = sniff_content_type(head)
    if content_type is None:
        raise ImageRejected("Only PNG, JPEG and DICOM images are accepted.")
    header = await asyncio.to_thread(read_header, temp_path, content_type)
    limits.check(header)
    thumbnail_temp = store.new_temp_path()
    try:
        async with gate.admit(header.decode_bytes):
            await asyncio.to_thread(write_thumbnail, temp_path, header, thumbnail_temp)
        stored = StoredImage(
            header=header, thumbnail_type=JPEG if content_type == JPEG else "image/png"
        )
        for temp, final in (
            (temp_path, store.original_path(sha256)),
            (thumbnail_temp, store.thumbnail_path(sha256, content_type)),
        ):
            if await asyncio.to_thread(store.place, temp, final):
                stored.created.append(final)
        return stored
    finally:
        await asyncio.to_thread(thumbnail_temp.unlink, True)
