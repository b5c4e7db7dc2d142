"""What the viewer shows and saves: display pixels, metadata, the doctor's marks."""

from desktop.images import ViewerData, load_viewer_data
from desktop.operations import OnError, OnSuccess, call
from desktop.runner import Progress, Task
from desktop.session import Session
from shared.models import Annotation, AnnotationsUpdate, XRay


def load(session: Session, xray: XRay, on_success: OnSuccess, on_error: OnError) -> Task:
    """The display pixels (from the user's cache or downloaded into it, with progress), the
    metadata and the marks of a film."""

    async def job(progress: Progress) -> ViewerData:
        return await load_viewer_data(session.api, session.cache, session.user.id, xray, progress)

    return session.run(job, on_success, on_error)


def save_marks(
    session: Session,
    xray_id: int,
    annotations: list[Annotation],
    calibration: float | None,
    on_success: OnSuccess,
    on_error: OnError,
) -> Task:
    body = AnnotationsUpdate.model_construct(
        annotations=annotations, calibration_mm_per_pixel=calibration
    )
    return call(session, lambda: session.api.save_annotations(xray_id, body), on_success, on_error)
