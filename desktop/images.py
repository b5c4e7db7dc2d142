"""Getting what the viewer shows: display pixels (from the per-user cache, or downloaded into
it), metadata and annotations. Runs on the worker thread; the GUI only draws."""

import asyncio
from dataclasses import dataclass

import numpy as np
from PIL import Image

from desktop.api import ApiClient
from desktop.cache import ImageCache, PixelData
from desktop.runner import Progress
from desktop.viewer.image import DisplayImage
from shared.models import AnnotationSet, XRay


@dataclass(frozen=True, slots=True)
class ViewerData:
    image: DisplayImage
    annotations: AnnotationSet
    from_cache: bool


def decode(pixels: PixelData) -> np.ndarray:
    with Image.open(pixels.path) as image:
        return np.asarray(image)


async def load_viewer_data(
    api: ApiClient, cache: ImageCache, user_id: int, xray: XRay, progress: Progress
) -> ViewerData:
    pixels = cache.lookup(user_id, xray.sha256)
    from_cache = pixels is not None
    metadata_task = asyncio.ensure_future(api.metadata(xray.id))
    annotations_task = asyncio.ensure_future(api.annotations(xray.id))
    try:
        if pixels is None:
            destination = cache.pixels_path(user_id, xray.sha256)
            headers = await api.download(f"/api/xrays/{xray.id}/pixels", destination, progress)
            pixels = cache.store(user_id, xray.sha256, headers)
        stored = await asyncio.to_thread(decode, pixels)
        metadata, annotations = await asyncio.gather(metadata_task, annotations_task)
    finally:
        for task in (metadata_task, annotations_task):
            task.cancel()
    image = DisplayImage(stored, pixels.offset, pixels.scale, pixels.bits, metadata)
    return ViewerData(image, annotations, from_cache)
