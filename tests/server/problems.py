"""Assertions on error answers (RFC 9457 problem+json)."""

from typing import Any

from aiohttp import ClientResponse


async def problem(response: ClientResponse, status: int) -> dict[str, Any]:
    """Assert the answer is a problem+json of `status`, and return it."""
    text = await response.text()
    assert response.status == status, text
    assert response.content_type == "application/problem+json", text
    body: dict[str, Any] = await response.json(content_type=None)
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["type"]
    for leak in ("Traceback", "sqlalchemy", "SELECT ", "/tmp/", "storage/"):
        assert leak not in text
    return body


async def field_problem(response: ClientResponse, field: str) -> dict[str, Any]:
    """Assert a 422 that names `field` among its errors."""
    body = await problem(response, 422)
    assert field in [error["field"] for error in body["errors"]], body
    return body
