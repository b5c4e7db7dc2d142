"""The OpenAPI 3.1 document, assembled from the routes' `@endpoint` declarations and the
shared pydantic models (so it cannot drift from the code)."""

import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter

from server.endpoint import EndpointSpec, endpoint_spec
from shared.base import Problem

REF_TEMPLATE = "#/components/schemas/{model}"
_PATH_PARAMETER = re.compile(r"\{(\w+)\}")


def _model_schema(model: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    """A reference to the model's schema, its definitions collected into `schemas`."""
    schema = TypeAdapter(model).json_schema(ref_template=REF_TEMPLATE)
    schemas.update(schema.pop("$defs", {}))
    title = schema.get("title") or getattr(model, "__name__", "Body")
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", str(title))
    schemas[name] = schema
    return {"$ref": REF_TEMPLATE.format(model=name)}


def _query_parameters(model: type[BaseModel] | None) -> list[dict[str, Any]]:
    if model is None:
        return []
    properties = model.model_json_schema(ref_template=REF_TEMPLATE).get("properties", {})
    return [
        {"name": name, "in": "query", "required": False, "schema": schema}
        for name, schema in properties.items()
    ]


def _operation(
    path: str, method: str, spec: EndpointSpec, schemas: dict[str, Any], doc: str | None
) -> dict[str, Any]:
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
        }
        for name in _PATH_PARAMETER.findall(path)
    ] + _query_parameters(spec.query)
    problem = {
        "application/problem+json": {"schema": {"$ref": REF_TEMPLATE.format(model="Problem")}}
    }
    success: dict[str, Any] = {"description": "Success"}
    if spec.response is not None:
        success["content"] = {"application/json": {"schema": _model_schema(spec.response, schemas)}}
    responses: dict[str, Any] = {str(spec.status): success}
    error_statuses = {**spec.extra_responses}
    if spec.roles is not None:
        error_statuses.setdefault(401, "Not authenticated")
        error_statuses.setdefault(403, "The caller's role may not do this")
    if parameters:
        error_statuses.setdefault(404, "No such object, or not visible to the caller")
    if spec.body is not None or spec.query is not None or spec.form is not None:
        error_statuses.setdefault(422, "Validation failed")
    if spec.body is not None:
        error_statuses.setdefault(400, "The body is not a JSON object")
    if spec.form is not None:
        error_statuses.setdefault(400, "The multipart body is malformed")
        error_statuses.setdefault(507, "The image store is full or cannot be written")
    if spec.body is not None or spec.form is not None:
        error_statuses.setdefault(408, "The body stopped arriving")
    if spec.query is not None and "cursor" in spec.query.model_fields:
        error_statuses.setdefault(400, "The cursor is not one this server gave out")
    error_statuses.setdefault(
        503,
        "The database is temporarily unavailable, or the server is stopping while the body "
        "arrives (Retry-After)"
        if spec.body is not None or spec.form is not None
        else "The database is temporarily unavailable (Retry-After)",
    )
    for status, description in sorted(error_statuses.items()):
        entry: dict[str, Any] = {"description": description}
        if status >= 400:
            entry["content"] = problem
        responses[str(status)] = entry
    operation: dict[str, Any] = {
        "summary": spec.summary,
        "operationId": f"{method.lower()}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}",
        "parameters": parameters,
        "responses": responses,
        "x-roles": sorted(spec.roles) if spec.roles is not None else ["anyone"],
    }
    if doc:
        operation["description"] = doc.strip()
    if spec.roles is not None:
        operation["security"] = [{"bearer": []}]
    if spec.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _model_schema(spec.body, schemas)}},
        }
    if spec.form is not None:
        form_schema = spec.form.model_json_schema(ref_template=REF_TEMPLATE)
        schemas.update(form_schema.pop("$defs", {}))
        required = list(form_schema.get("required", []))
        if spec.form_file:
            form_schema.setdefault("properties", {})[spec.form_file] = {
                "type": "string",
                "format": "binary",
                "description": "PNG, JPEG or DICOM Part 10, recognised by content",
            }
            required.append(spec.form_file)
        form_schema["required"] = required
        operation["requestBody"] = {
            "required": True,
            "content": {"multipart/form-data": {"schema": form_schema}},
        }
    return operation


def build_openapi(app: web.Application) -> dict[str, Any]:
    schemas: dict[str, Any] = {"Problem": Problem.model_json_schema(ref_template=REF_TEMPLATE)}
    schemas.update(schemas["Problem"].pop("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        spec = endpoint_spec(route.handler)
        if spec is None or route.method == "HEAD" or route.resource is None:
            continue
        path = route.resource.canonical
        paths.setdefault(path, {})[route.method.lower()] = _operation(
            path, route.method, spec, schemas, route.handler.__doc__
        )
    return {
        "openapi": "3.1.0",
        "info": {"title": "medsys API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
