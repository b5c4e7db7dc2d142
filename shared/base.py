"""Base classes and field types used by every wire model."""

import re
from typing import Annotated, ClassVar, Generic, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

# Control characters (C0 but tab and newline, DEL, C1) and lone surrogates: no text a person
# types holds them, PostgreSQL cannot store NUL or a surrogate, and a terminal or log shows
# them as commands.
_CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def plain_text(value: object) -> object:
    """Text with Windows line ends made Unix ones; ValueError if a control character is left."""
    if not isinstance(value, str):
        return value
    value = value.replace("\r\n", "\n")
    if _CONTROL_CHARACTERS.search(value):
        raise ValueError("must not contain control characters (only line breaks and tabs)")
    return value


class PlainTextModel(BaseModel):
    """Every text field of the model is plain text (see `plain_text`), on both sides of the
    wire, so SQLite and PostgreSQL refuse the same input the same way."""

    # Fields kept exactly as sent (opaque tokens, checked by their own rules).
    opaque_fields: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="after")
    @classmethod
    def _plain_text(cls, value: object, info: ValidationInfo) -> object:
        if info.field_name in cls.opaque_fields:
            return value
        return plain_text(value)


class RequestModel(PlainTextModel):
    """A request body: strict types, unknown fields ignored, surrounding blanks trimmed."""

    model_config = ConfigDict(strict=True, extra="ignore", str_strip_whitespace=True)


class QueryModel(PlainTextModel):
    """A query string: values arrive as text and are parsed leniently; unknown ones ignored."""

    model_config = ConfigDict(extra="ignore")


class ResponseModel(BaseModel):
    """A response body: lenient, so that clients ignore fields added later."""

    model_config = ConfigDict(extra="ignore", from_attributes=True)


def _check_email(address: str) -> str:
    # Validate the syntax only (no DNS lookups) and keep the address exactly as entered.
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(f"not a valid email address: {error}") from None
    return address


def _reject_null(value: object) -> object:
    if value is None:
        raise ValueError("may not be null")
    return value


# For PATCH bodies: a field may be left out, but an explicit null is a 422, not "clear it".
NotNull = BeforeValidator(_reject_null)

Email = Annotated[str, Field(min_length=3, max_length=320), AfterValidator(_check_email)]
FullName = Annotated[str, Field(min_length=1, max_length=200)]
Phone = Annotated[str, Field(min_length=1, max_length=50)]
Password = Annotated[str, Field(min_length=8, max_length=1024)]
Title = Annotated[str, Field(min_length=1, max_length=200)]
LongText = Annotated[str, Field(max_length=10000)]

ItemT = TypeVar("ItemT")


class Page(ResponseModel, Generic[ItemT]):
    """One page of a list; `next_cursor` is opaque and null on the last page."""

    items: list[ItemT]
    next_cursor: str | None = None


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, the body of every error answer."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None
