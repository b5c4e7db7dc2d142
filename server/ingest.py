"""Turning a received file into a stored x-ray image: validate, thumbnail, place.

Used by the upload endpoint and by the demo seed, so both store images the same way.
"""

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from server.imaging import ImageInfo, validate_and_thumbnail
from server.storage import ImageStore


@dataclass(slots=True)
class StoredImage:
    info: ImageInfo
    thumbnail_type: str
    # Files this call created; to be removed if the database row is not committed after all.
    created: list[Path] = field(default_factory=list)


def image_columns(stored: StoredImage, sha256: str, size_bytes: int) -> dict[str, object]:
    """The x-ray row's columns that describe its stored image (upload and demo seed alike)."""
    return {
        "content_type": stored.info.content_type,
        "width": stored.info.width,
        "height": stored.info.height,
        "size_bytes": size_bytes,
        "sha256": sha256,
        "thumbnail_type": stored.thumbnail_type,
    }


async def store_image(
    store: ImageStore, temp_path: Path, head: bytes, sha256: str, max_image_pixels: int
) -> StoredImage:
    """Decode `temp_path` fully (raises ImageRejected), write its thumbnail, and move both to
    their content addresses. Nothing is left in storage if this raises."""
    thumbnail_temp = store.new_temp_path()
    try:
        info = await asyncio.to_thread(
            validate_and_thumbnail, temp_path, head, max_image_pixels, thumbnail_temp
        )
        stored = StoredImage(
            info=info,
            thumbnail_type="image/jpeg" if info.content_type == "image/jpeg" else "image/png",
        )
        for temp, final in (
            (temp_path, store.original_path(sha256)),
            (thumbnail_temp, store.thumbnail_path(sha256, info.content_type)),
        ):
            if await asyncio.to_thread(store.place, temp, final):
                stored.created.append(final)
        return stored
    finally:
        await asyncio.to_thread(thumbnail_temp.unlink, True)
