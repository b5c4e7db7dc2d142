"""Cursor pagination over id-ordered queries.

The cursor is opaque to clients: base64url of the last id returned. Ordering by the primary key
gives "newest first" (descending) and "oldest first" (ascending) and is stable under inserts.
"""

import base64
import binascii
import json
from typing import Annotated, Any, TypeVar

from pydantic import BeforeValidator, Field
from sqlalchemy import Integer, Select, bindparam
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import BindParameter

from server.errors import BadRequest
from shared.base import QueryModel

RowT = TypeVar("RowT")
LARGEST_ID = 2**63 - 1


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
    paged = paged_by_parameters(statement, id_column, newest_first)
    rows = await db.scalars(paged, page_parameters(page, newest_first))
    return cut(list(rows.all()), id_column, page)


def cut(
    rows: list[RowT], id_column: InstrumentedAttribute[int], page: PageQuery
) -> tuple[list[RowT], str | None]:
    """The page's rows of those `paged_by_parameters` read, and the cursor of the next page if
    there is one."""
    has_more = len(rows) > page.limit
    rows = rows[: page.limit]
    next_cursor = encode_cursor(getattr(rows[-1], id_column.key)) if has_more else None
    return rows, next_cursor


def paged_by_parameters(
    statement: Select[*tuple[Any, ...]], id_column: InstrumentedAttribute[int], newest: bool
) -> Select[*tuple[Any, ...]]:
    """`statement` cut to a page: after the cursor, in id order, with the cursor and the length
    as the parameters `after` and `limit` (see `page_parameters`), so that every page of a
    list is one statement, compiled once."""
    after: BindParameter[int] = bindparam("after")  # typed by the id column it meets
    statement = statement.where(id_column < after if newest else id_column > after)
    statement = statement.order_by(id_column.desc() if newest else id_column.asc())
    return statement.limit(bindparam("limit", type_=Integer))


def page_parameters(page: PageQuery, newest: bool) -> dict[str, int]:
    """The values of `paged_by_parameters`' parameters for this page (one row more than asked:
    is there a next page?)."""
    past_every_id = LARGEST_ID if newest else 0
    after = past_every_id if page.cursor is None else decode_cursor(page.cursor)
    # Kept to what the database's integers hold: beyond, the page is as empty as at the edge.
    return {"after": min(max(after, 0), LARGEST_ID), "limit": page.limit + 1}
