"""The naive reference server of `bench.http`: what a quick aiohttp + SQLAlchemy async ORM
service over medsys's `questions` table looks like, with no authentication and no audit.

    python -m bench.reference.naive DATABASE_URL PORT

GET /questions/{id}            one `session.get` by primary key
GET /questions?doctor_id=D     the pending page of 50 for that doctor, oldest first

It prints "naive is serving on http://127.0.0.1:PORT" once it listens.
"""

import asyncio
import sys
from datetime import datetime

from aiohttp import web
from sqlalchemy import String, Text, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
PAGE = 50


class Base(DeclarativeBase):
    pass


class Question(Base):
    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int]
    doctor_id: Mapped[int | None]
    xray_id: Mapped[int | None]
    question_text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


def as_json(question: Question) -> dict[str, object]:
    return {
        "id": question.id,
        "patient_id": question.patient_id,
        "doctor_id": question.doctor_id,
        "xray_id": question.xray_id,
        "question_text": question.question_text,
        "status": question.status,
        "created_at": question.created_at.isoformat(),
        "updated_at": question.updated_at.isoformat(),
    }


async def one_question(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as session:
        question = await session.get(Question, int(request.match_info["id"]))
    if question is None:
        raise web.HTTPNotFound()
    return web.json_response(as_json(question))


async def pending_page(request: web.Request) -> web.Response:
    doctor_id = int(request.query["doctor_id"])
    async with request.app[SESSIONS]() as session:
        questions = await session.scalars(
            select(Question)
            .where(
                Question.status == "pending",
                or_(Question.doctor_id == doctor_id, Question.doctor_id.is_(None)),
            )
            .order_by(Question.id)
            .limit(PAGE)
        )
        return web.json_response([as_json(question) for question in questions])


async def serve(database_url: str, port: int) -> None:
    app = web.Application()
    app[SESSIONS] = async_sessionmaker(create_async_engine(database_url))
    app.router.add_get("/questions/{id}", one_question)
    app.router.add_get("/questions", pending_page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(f"naive is serving on http://127.0.0.1:{port}", flush=True)
    await asyncio.Event().wait()  # until the benchmark terminates it


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], int(sys.argv[2])))
