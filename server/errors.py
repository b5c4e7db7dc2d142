"""Domain errors and the one middleware that turns every error into RFC 9457 problem+json."""

import errno
import json
import logging
import sqlite3
from collections.abc import Iterable
from http import HTTPStatus

import asyncpg
from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from shared.base import FieldError, Problem

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class ApiError(Exception):
    """An error with an HTTP status; raised by services and handlers, rendered by the middleware."""

    status: int = 500

    def __init__(
        self,
        detail: str,
        *,
        errors: Iterable[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        extensions: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors) if errors is not None else None
        self.headers = headers or {}
        # RFC 9457 extension members, added to the body (e.g. which part of the server is down)
        self.extensions = extensions or {}


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401

    def __init__(self, detail: str = "Authentication is required.") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class PayloadTooLarge(ApiError):
    status = 413


class UnsupportedMediaType(ApiError):
    status = 415


class Unprocessable(ApiError):
    status = 422


class TooManyRequests(ApiError):
    status = 429

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})


class RequestTimeout(ApiError):
    """The client stopped sending its body; the connection is closed after this answer."""

    status = 408


class ServiceUnavailable(ApiError):
    status = 503

    def __init__(self, detail: str, extensions: dict[str, str] | None = None) -> None:
        super().__init__(
            detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}, extensions=extensions
        )


class InsufficientStorage(ApiError):
    status = 507


# How long a client should wait before retrying while the database is out of reach.
RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE = "The database is temporarily unavailable; try again shortly."
STORAGE_FULL = (
    "The server's image store is full, so nothing was stored. "
    "The practice's administrator has to make room."
)
IMAGE_FILE_MISSING = (
    "The image's file is missing from the server's image store. The practice's administrator "
    "should run the storage check (medsys-server fsck), which lists every film whose files "
    "are gone."
)
STORAGE_UNWRITABLE = (
    "The server's image store cannot be written, so nothing was stored. "
    "The practice's administrator has to repair it."
)
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_UNWRITABLE_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


def client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


DRIVER_UNAVAILABLE = (
    asyncpg.InterfaceError,  # "connection is closed", and the like
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.exceptions.OperatorInterventionError,  # class 57: shutdown, cannot connect now
    sqlite3.OperationalError,  # locked past the timeout, unreadable
)


def database_unavailable(error: BaseException, request: web.Request) -> bool:
    """Whether `error` means the database could not be reached or used for now (a restart, a
    lost connection, a full pool), rather than a fault in a query or a client that left."""
    if isinstance(error, PoolTimeoutError):
        return True
    if isinstance(error, DBAPIError):
        return error.connection_invalidated or isinstance(error, (OperationalError, InterfaceError))
    # The same, raised by the drivers themselves to the reads that go straight to them
    # (server/rawsql.py): a connection lost or refused, a server shutting down, a locked file.
    if isinstance(error, DRIVER_UNAVAILABLE):
        return True
    # asyncpg raises these itself while connecting (refused, timed out); the same kinds from
    # the client's own connection mean the client went away.
    return isinstance(error, (ConnectionError, TimeoutError)) and not client_gone(request)


def storage_problem(error: BaseException) -> str | None:
    """The detail to answer when `error` is the image store refusing a write, else None."""
    if isinstance(error, OSError) and not isinstance(error, ConnectionError):
        if error.errno in _FULL_ERRNOS:
            return STORAGE_FULL
        if error.errno in _UNWRITABLE_ERRNOS:
            return STORAGE_UNWRITABLE
    return None


def human_message(item: ErrorDetails) -> str:
    """A validation error as a person would say it ("Write at least 8 characters."), not as
    pydantic words it ("String should have at least 8 characters")."""
    kind, context = item["type"], item.get("ctx") or {}
    if kind == "missing" or (kind == "string_too_short" and context.get("min_length") == 1):
        return "This is required."
    if kind == "string_too_short":
        return f"Write at least {context.get('min_length')} characters."
    if kind == "string_too_long":
        return f"Write at most {context.get('max_length')} characters."
    if kind == "enum" or kind == "literal_error":
        return f"Choose one of {context.get('expected', 'the offered values')}."
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "Give a whole number."
    if kind in ("bool_type", "bool_parsing"):
        return "Give true or false."
    if kind in ("string_type",):
        return "Give text."
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bound = next(iter(context.values()), "")
        relation = {
            "greater_than": "more than",
            "greater_than_equal": "at least",
            "less_than": "less than",
            "less_than_equal": "at most",
        }[kind]
        return f"Give a number {relation} {bound}."
    message = str(item["msg"]).removeprefix("Value error, ")
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def field_errors(error: ValidationError) -> list[FieldError]:
    """Pydantic's errors as `{field, message}`, the field a dotted path into the body."""
    result = []
    for item in error.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in item["loc"]) or "body"
        result.append(FieldError(field=location, message=human_message(item)))
    return result


def invalid(field: str, message: str) -> Unprocessable:
    """A 422 about one field."""
    return Unprocessable(f"{field}: {message}", errors=[FieldError(field=field, message=message)])


def problem_response(
    status: int,
    detail: str,
    *,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extensions: dict[str, str] | None = None,
) -> web.Response:
    problem = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail, errors=errors)
    body = {**(extensions or {}), **problem.model_dump(exclude_none=True)}
    return web.Response(
        status=status, text=json.dumps(body), content_type=PROBLEM_JSON, headers=headers
    )


_HTTP_DETAILS = {
    404: "There is nothing at this address.",
    405: "This method is not allowed here.",
}


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as error:
        response = problem_response(
            error.status,
            error.detail,
            errors=error.errors,
            headers=error.headers,
            extensions=error.extensions,
        )
        if isinstance(error, RequestTimeout):
            response.force_close()  # the rest of the body may still come: not a new request
        return response
    except ValidationError as error:
        errors = field_errors(error)
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
        return problem_response(422, detail, errors=errors)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        detail = _HTTP_DETAILS.get(error.status) or error.reason
        headers = {k: v for k, v in error.headers.items() if k in ("Allow", "Retry-After")}
        return problem_response(error.status, detail, headers=headers)
    except json.JSONDecodeError:
        return problem_response(400, "The body is not valid JSON.")
    except Exception as error:
        if database_unavailable(error, request):
            log.warning("%s %s: database unavailable (%s)", request.method, request.path, error)
            unavailable = ServiceUnavailable(DATABASE_UNAVAILABLE)
            return problem_response(503, unavailable.detail, headers=unavailable.headers)
        if (storage_detail := storage_problem(error)) is not None:
            log.error("%s %s: image store: %s", request.method, request.path, error)
            return problem_response(507, storage_detail)
        # Never leak a stack trace, SQL or a path: log it here, answer in general terms.
        log.exception("unhandled error in %s %s", request.method, request.path)
        return problem_response(500, "The server could not complete the request.")
