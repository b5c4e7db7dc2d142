"""Questions from patients and the answers of doctors."""

import functools
from typing import Any, Literal

from aiohttp import web
from pydantic import TypeAdapter
from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import aliased, joinedload, selectinload

from server.access import (
    load_patient,
    own_xray_to_ask_about,
    pending_questions_for,
    questions_listed_for,
    require_conversation_party,
    require_question_visible,
)
from server.endpoint import (
    ANY_USER,
    DOCTOR,
    PATIENT,
    STAFF,
    Context,
    endpoint,
    json_response,
)
from server.errors import Conflict, NotFound, invalid
from server.events.outbox import announce
from server.orm import QuestionRow, ResponseRow, UserRow, XRayRow
from server.pagination import PageQuery, cut, page_parameters, paged_by_parameters
from server.rawsql import RawQuery
from shared.base import Page
from shared.enums import AuditAction, AuditObjectType, EventType, QuestionStatus, UserType
from shared.models import Question, QuestionCreate, Response, ResponseCreate

routes = web.RouteTableDef()
QUESTION = AuditObjectType.question


class QuestionQuery(PageQuery):
    status: QuestionStatus | None = None


# The names of patient and doctor come joined to every question, its answers in one extra
# query per page (no N+1): two round trips, each holding SQLite's one connection.
WITH_RESPONSES = (
    selectinload(QuestionRow.responses),
    joinedload(QuestionRow.patient),
    joinedload(QuestionRow.doctor),
)


# One question: its answers joined too, so that it is read in one statement (each statement is
# several trips to the database's thread).
WITH_EVERYTHING = (
    joinedload(QuestionRow.responses),
    joinedload(QuestionRow.patient),
    joinedload(QuestionRow.doctor),
)


async def _load_question(ctx: Context, question_id: int) -> QuestionRow | None:
    found = await ctx.db.execute(
        select(QuestionRow).where(QuestionRow.id == question_id).options(*WITH_EVERYTHING)
    )
    return found.unique().scalar_one_or_none()


# A page of questions is read as columns, not ORM instances: a page of fifty made 150 instances
# (questions, patients, doctors), the larger part of such a read's time.
PATIENT_USER, DOCTOR_USER = aliased(UserRow), aliased(UserRow)
QUESTION_COLUMNS = (
    select(
        QuestionRow.id,
        QuestionRow.patient_id,
        QuestionRow.doctor_id,
        QuestionRow.xray_id,
        QuestionRow.question_text,
        QuestionRow.status,
        QuestionRow.created_at,
        QuestionRow.updated_at,
        PATIENT_USER.full_name.label("patient_name"),
        DOCTOR_USER.full_name.label("doctor_name"),
    )
    .join(PATIENT_USER, PATIENT_USER.id == QuestionRow.patient_id)
    .outerjoin(DOCTOR_USER, DOCTOR_USER.id == QuestionRow.doctor_id)
)
RESPONSE_COLUMNS = select(
    ResponseRow.id,
    ResponseRow.question_id,
    ResponseRow.doctor_id,
    ResponseRow.response_text,
    ResponseRow.created_at,
    ResponseRow.updated_at,
)
QUESTION_FIELDS = tuple(str(column.key) for column in QUESTION_COLUMNS.selected_columns)
RESPONSE_FIELDS = tuple(str(column.key) for column in RESPONSE_COLUMNS.selected_columns)
WITH_RESPONSE_COLUMNS = tuple(
    column.label(f"response_{column.key}") for column in RESPONSE_COLUMNS.selected_columns
)
# One question and its answers in one statement (one snapshot, one trip): a row per answer,
# the question's columns repeated, or one row with no answer.
QUESTION_WITH_RESPONSES = RawQuery(
    QUESTION_COLUMNS.add_columns(*WITH_RESPONSE_COLUMNS)
    .outerjoin(ResponseRow, ResponseRow.question_id == QuestionRow.id)
    .where(QuestionRow.id == bindparam("question_id"))
    .order_by(ResponseRow.id)
)


def _questions(rows: list[dict[str, Any]]) -> list[Question]:
    """The questions of rows of questions joined to their answers (in the rows' order).

    Validated all at once by the wire model's own (compiled) validator: three times faster
    than making each without validation (`model_construct`, in Python), 0.16 ms for fifty."""
    questions: dict[int, dict[str, Any]] = {}
    for row in rows:
        question = questions.get(row["id"])
        if question is None:
            question = questions[row["id"]] = {name: row[name] for name in QUESTION_FIELDS}
            question["responses"] = []
        if row["response_id"] is not None:
            question["responses"].append(
                {name: row[f"response_{name}"] for name in RESPONSE_FIELDS}
            )
    return QUESTIONS.validate_python(list(questions.values()))


QUESTIONS = TypeAdapter(list[Question])


# Which questions a page lists: the caller's (GET /api/questions), the caller's queue, or one
# patient's with one doctor (parameters `doctor_id`, `patient_id`).
PageKind = Literal["listed", "pending", "conversation"]


@functools.cache
def _page_query(
    kind: PageKind, usertype: UserType, by_status: bool, newest_first: bool
) -> RawQuery:
    """A page of questions with their answers (a row per answer), in one statement built and
    compiled once per shape: the caller's id (`me`), the status, the cursor and the length
    are its parameters. The access rules are applied to a caller whose id is a parameter."""
    caller = UserRow(id=bindparam("me"), usertype=usertype)
    if kind == "pending":
        where = pending_questions_for(caller)
    elif kind == "listed":
        where = questions_listed_for(caller)
    else:
        where = and_(
            QuestionRow.doctor_id == bindparam("doctor_id"),
            QuestionRow.patient_id == bindparam("patient_id"),
        )
    if by_status:
        where = and_(where, QuestionRow.status == bindparam("status"))
    page = paged_by_parameters(QUESTION_COLUMNS.where(where), QuestionRow.id, newest_first)
    questions = page.subquery()
    return RawQuery(
        select(questions, *WITH_RESPONSE_COLUMNS)
        .outerjoin(ResponseRow, ResponseRow.question_id == questions.c.id)
        .order_by(questions.c.id.desc() if newest_first else questions.c.id, ResponseRow.id)
    )


async def _page(
    ctx: Context,
    page: PageQuery,
    kind: PageKind,
    *,
    status: QuestionStatus | None = None,
    newest_first: bool = True,
    **parameters: int,
) -> web.Response:
    """A page of questions of `kind`, with their answers, and one audit event per patient
    they belong to."""
    query = _page_query(kind, ctx.user.usertype, status is not None, newest_first)
    async with ctx.reader() as reader:
        rows = await query.all(
            reader,
            me=ctx.user.id,
            status=status,
            **page_parameters(page, newest_first),
            **parameters,
        )
    items, next_cursor = cut(_questions(rows), QuestionRow.id, page)
    ctx.audit.record_patients(QUESTION, {question.patient_id for question in items})
    return json_response(Page[Question](items=items, next_cursor=next_cursor))


@routes.post("/api/questions")
@endpoint(
    "Ask a question (patients), optionally of one doctor and about one of the caller's x-rays",
    roles=PATIENT,
    body=QuestionCreate,
    response=Question,
    status=201,
    subject=QUESTION,
)
async def ask_question(ctx: Context) -> web.Response:
    body = await ctx.json_body(QuestionCreate)
    doctor = None
    if body.doctor_id is not None:
        doctor = await ctx.db.get(UserRow, body.doctor_id)
        if doctor is None or doctor.usertype != UserType.doctor or not doctor.is_active:
            raise invalid("doctor_id", "There is no active doctor with this id.")
    if body.xray_id is not None:
        xray = await ctx.db.get(XRayRow, body.xray_id)
        if not own_xray_to_ask_about(ctx.user, xray):
            raise invalid("xray_id", "There is no x-ray of yours with this id.")
    question = QuestionRow(
        patient_id=ctx.user.id,
        doctor_id=body.doctor_id,
        xray_id=body.xray_id,
        question_text=body.question_text,
        status=QuestionStatus.pending,
        responses=[],
        patient=ctx.user,
        doctor=doctor,
    )
    ctx.db.add(question)
    await ctx.db.flush()
    ctx.audit.record(QUESTION, question.id, ctx.user.id)
    await announce(
        ctx.db,
        EventType.question_created,
        "question",
        question.id,
        question.patient_id,
        doctor_id=question.doctor_id,
        all_doctors=question.doctor_id is None,
    )
    return json_response(Question.model_validate(question), status=201)


@routes.get("/api/questions")
@endpoint(
    "Questions: a patient's own, those assigned to a doctor, all for an admin",
    roles=ANY_USER,
    query=QuestionQuery,
    response=Page[Question],
    subject=QUESTION,
)
async def list_questions(ctx: Context) -> web.Response:
    query = ctx.query(QuestionQuery)
    return await _page(ctx, query, "listed", status=query.status)


@routes.get("/api/questions/pending")
@endpoint(
    "The queue of pending questions for the calling doctor, oldest first",
    roles=STAFF,
    query=PageQuery,
    response=Page[Question],
    subject=QUESTION,
)
async def pending_questions(ctx: Context) -> web.Response:
    page = ctx.query(PageQuery)
    return await _page(ctx, page, "pending", newest_first=False)


@routes.get("/api/questions/{id}")
@endpoint("One question with its answers", roles=ANY_USER, response=Question, subject=QUESTION)
async def get_question(ctx: Context) -> web.Response:
    question_id = ctx.path_id("id")
    async with ctx.reader() as reader:
        rows = await QUESTION_WITH_RESPONSES.all(reader, question_id=question_id)
    found = next(iter(_questions(rows)), None)
    if found is not None:
        ctx.audit.about(QUESTION, found.id, found.patient_id)
    question = require_question_visible(ctx.user, found)
    ctx.audit.record(QUESTION, question.id, question.patient_id)
    return json_response(question)


@routes.post("/api/questions/{id}/claim")
@endpoint(
    "Take an unassigned question (doctors), so that no other doctor answers it",
    roles=DOCTOR,
    response=Question,
    subject=QUESTION,
    extra_responses={409: "Another doctor holds it, or it is answered"},
)
async def claim_question(ctx: Context) -> web.Response:
    question_id = ctx.path_id("id")
    # Locked on PostgreSQL, so that of two doctors claiming at once one gets 409.
    question = await ctx.db.scalar(
        select(QuestionRow)
        .where(QuestionRow.id == question_id)
        .options(*WITH_RESPONSES)
        .with_for_update(of=QuestionRow)
    )
    if question is not None:
        ctx.audit.about(QUESTION, question.id, question.patient_id)
    if question is not None and question.doctor_id not in (None, ctx.user.id):
        # The race the claim exists for: the other doctor was first (the contract's 409).
        raise Conflict("Another doctor has taken this question.")
    question = require_question_visible(ctx.user, question)
    if question.doctor_id == ctx.user.id:
        ctx.audit.record(QUESTION, question.id, question.patient_id, action=AuditAction.read)
        return json_response(Question.model_validate(question))
    if question.status != QuestionStatus.pending:
        raise Conflict("This question is already answered.")
    question.doctor = ctx.user
    question.doctor_id = ctx.user.id
    await ctx.db.flush()
    ctx.audit.record(
        QUESTION, question.id, question.patient_id, action=AuditAction.update, detail="claimed"
    )
    await announce(
        ctx.db,
        EventType.question_claimed,
        "question",
        question.id,
        question.patient_id,
        all_doctors=True,
    )
    return json_response(Question.model_validate(question))


@routes.post("/api/questions/{id}/response")
@endpoint(
    "Answer a question (doctors); an unassigned question becomes the doctor's",
    roles=DOCTOR,
    body=ResponseCreate,
    response=Response,
    status=201,
    subject=AuditObjectType.response,
)
async def answer_question(ctx: Context) -> web.Response:
    question_id = ctx.path_id("id")
    question = await _load_question(ctx, question_id)
    if question is not None:
        ctx.audit.about(AuditObjectType.response, question.id, question.patient_id)
    question = require_question_visible(ctx.user, question)
    body = await ctx.json_body(ResponseCreate)
    response = ResponseRow(
        question_id=question.id, doctor_id=ctx.user.id, response_text=body.response_text
    )
    ctx.db.add(response)
    # The first answer takes the question out of the queue of every doctor who had it.
    was_unassigned = question.doctor_id is None
    first_answer = question.status == QuestionStatus.pending
    question.status = QuestionStatus.answered
    if was_unassigned:
        question.doctor = ctx.user
        question.doctor_id = ctx.user.id
    await ctx.db.flush()
    ctx.audit.record(AuditObjectType.response, response.id, question.patient_id)
    await announce(
        ctx.db,
        EventType.question_answered,
        "question",
        question.id,
        question.patient_id,
        doctor_id=question.doctor_id,
        all_doctors=first_answer and was_unassigned,
        to_patient=True,
    )
    return json_response(Response.model_validate(response), status=201)


@routes.get("/api/questions/{doctor_id}/{patient_id}")
@endpoint(
    "The questions one patient directed to one doctor",
    roles=ANY_USER,
    query=PageQuery,
    response=Page[Question],
    subject=QUESTION,
)
async def conversation(ctx: Context) -> web.Response:
    doctor_id, patient_id = ctx.path_id("doctor_id"), ctx.path_id("patient_id")
    ctx.audit.about(QUESTION, None, patient_id)
    require_conversation_party(ctx.user, doctor_id, patient_id)
    await load_patient(ctx.db, patient_id)
    doctor = await ctx.db.get(UserRow, doctor_id)
    if doctor is None or doctor.usertype != UserType.doctor:
        raise NotFound("There is no such doctor.")
    page = ctx.query(PageQuery)
    return await _page(ctx, page, "conversation", doctor_id=doctor_id, patient_id=patient_id)
