"""Base classes and field types used by every wire model."""

from typing import Annotated, Generic, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field


class RequestModel(BaseModel):
    """A request body: strict types, unknown fields ignored, surrounding blanks trimmed."""

    model_config = ConfigDict(strict=True, extra="ignore", str_strip_whitespace=True)


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
