"""How much waits for the user, as numbers (the desktop's tab badges). Numbers about no one
patient are no look at anyone's records: not audited as a read."""

from aiohttp import web
from sqlalchemy import func, select

from server.access import pending_questions_for
from server.endpoint import ANY_USER, Context, endpoint, json_response
from server.orm import QuestionRow, UserRow, XRayRow
from shared.enums import UserType
from shared.models import Counts

routes = web.RouteTableDef()


@routes.get("/api/counts")
@endpoint(
    "How much waits for the user: the doctor's queue and films to read, the doctors awaiting "
    "an admin's approval (numbers only; a patient gets nulls)",
    roles=ANY_USER,
    response=Counts,
)
async def counts(ctx: Context) -> web.Response:
    user = ctx.user
    if user.usertype == UserType.patient:
        return json_response(Counts())
    count = func.count()
    queue = await ctx.db.scalar(
        select(count).select_from(QuestionRow).where(pending_questions_for(user))
    )
    films = await ctx.db.scalar(select(count).select_from(XRayRow).where(XRayRow.unsigned()))
    waiting = None
    if user.usertype == UserType.admin:
        waiting = await ctx.db.scalar(
            select(count)
            .select_from(UserRow)
            .where(
                UserRow.usertype == UserType.doctor,
                UserRow.is_active.is_(False),
                UserRow.deactivated_at.is_(None),
            )
        )
    return json_response(
        Counts(pending_questions=queue, films_to_read=films, awaiting_approval=waiting)
    )
