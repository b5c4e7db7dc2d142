"""ORM rows to wire models, where a field is derived rather than stored."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access import result_visible
from server.orm import AuditEventRow, UserRow, XRayRow
from shared.models import AuditEvent, XRay


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


async def audit_events_out(db: AsyncSession, rows: Sequence[AuditEventRow]) -> list[AuditEvent]:
    """Audit events with the names (and the actor's role) of the people they mention, read in
    one query for the page."""
    ids = {row.actor_id for row in rows} | {row.patient_id for row in rows}
    people = {
        user_id: (full_name, usertype)
        for user_id, full_name, usertype in await db.execute(
            select(UserRow.id, UserRow.full_name, UserRow.usertype).where(
                UserRow.id.in_([user_id for user_id in ids if user_id is not None])
            )
        )
    }
    events = []
    for row in rows:
        actor = people.get(row.actor_id) if row.actor_id is not None else None
        patient = people.get(row.patient_id) if row.patient_id is not None else None
        event = AuditEvent.model_validate(row)
        event.actor_name, event.actor_role = actor if actor else (None, None)
        event.patient_name = patient[0] if patient else None
        events.append(event)
    return events
