"""ORM rows to wire models, where a field is derived rather than stored."""

from server.orm import UserRow, XRayRow
from shared.enums import UserType
from shared.models import XRay


def result_visible(viewer: UserRow, row: XRayRow) -> bool:
    """Staff see the result as it is written; the patient once the doctor marked it final."""
    return viewer.usertype != UserType.patient or row.result_final


def xray_out(row: XRayRow, viewer: UserRow) -> XRay:
    return XRay(
        id=row.id,
        user_id=row.user_id,
        name_of_xray=row.name_of_xray,
        description_of_xray=row.description_of_xray,
        result_of_xray=row.result_of_xray if result_visible(viewer, row) else None,
        result_final=row.result_final,
        type_of_xray=row.type_of_xray,
        image_of_xray=f"/api/xrays/{row.id}/image",
        thumbnail_url=f"/api/xrays/{row.id}/thumbnail",
        content_type=row.content_type,
        width=row.width,
        height=row.height,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
