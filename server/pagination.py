"""Cursor pagination over id-ordered queries.

The cursor is opaque to clients: base64url of the last id returned. Ordering by the primary key
gives "newest first" (descending) and "oldest first" (ascending) and is stable under inserts.
"""

import base64
import binascii
import json
from typing import Annotated, Any, TypeVar

from pydantic import BeforeValidator, Field
from sqlalchemy import Row, Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from server.errors import BadRequest
from shared.base import QueryModel

RowT = TypeVar("RowT")


def _query_bool(value: object) -> object:
    # The contract's booleans are exactly `true` and `false`, not pydantic's "yes"/"1"/"on".
    if isinstance(value, str):
        if value not in ("true", "false"):
            raise ValueError("must be true or false")
        return value == "true"
    return value


QueryBool = Annotated[bool, BeforeValidator(_query_bool)]


class PageQuery(QueryModel):
    """The query of every list: `?limit=` (1..200, default 50) and `?cursor=`."""

    # A garbled cursor is a 400 (decode_cursor), whatever it holds.
    opaque_fields = frozenset({"cursor"})

    limit: Annotated[int, Field(ge=1, le=200)] = 50
    cursor: str | None = None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        after = value["after"]
    except (ValueError, KeyError, TypeError, UnicodeEncodeError, binascii.Error):
        raise BadRequest("The cursor is not one this server gave out.") from None
    if not isinstance(after, int) or isinstance(after, bool):
        raise BadRequest("The cursor is not one this server gave out.")
    return after


async def fetch_page(
    db: AsyncSession,
    statement: Select[RowT],
    id_column: InstrumentedAttribute[int],
    page: PageQuery,
    *,
    newest_first: bool = True,
) -> tuple[list[RowT], str | None]:
    """One page of `statement` (its first entity) ordered by `id_column`, and the cursor of
    the next page."""
    paged = _paged(statement, id_column, page, newest_first)
    return _cut(list((await db.scalars(paged)).all()), id_column, page)


async def fetch_row_page(
    db: AsyncSession,
    statement: Select[*tuple[Any, ...]],
    id_column: InstrumentedAttribute[int],
    page: PageQuery,
    *,
    newest_first: bool = True,
) -> tuple[list[Row[*tuple[Any, ...]]], str | None]:
    """`fetch_page` for a statement of columns: whole rows, with no ORM instance made."""
    paged = _paged(statement, id_column, page, newest_first)
    return _cut(list((await db.execute(paged)).all()), id_column, page)


def _paged(
    statement: Select[Any], id_column: InstrumentedAttribute[int], page: PageQuery, newest: bool
) -> Select[Any]:
    if page.cursor is not None:
        after = decode_cursor(page.cursor)
        statement = statement.where(id_column < after if newest else id_column > after)
    statement = statement.order_by(id_column.desc() if newest else id_column.asc())
    return statement.limit(page.limit + 1)  # one more: is there a next page?


def _cut(
    rows: list[RowT], id_column: InstrumentedAttribute[int], page: PageQuery
) -> tuple[list[RowT], str | None]:
    has_more = len(rows) > page.limit
    rows = rows[: page.limit]
    next_cursor = encode_cursor(getattr(rows[-1], id_column.key)) if has_more else None
    return rows, next_cursor
