"""The shared wire models enforce API.md's rules on their own (the desktop relies on them too)."""

import json

import pytest
from pydantic import ValidationError

from shared.base import Page
from shared.models import QuestionCreate, RegisterRequest, User, XRayUpdate, XRayUploadFields


def register(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "full_name": "  Ann  ",
        "email": "Ann.Smith@Example.ORG",
        "phone": "+1 555",
        "usertype": "patient",
        "password": "12345678",
    }
    body.update(overrides)
    return body


def test_registration_keeps_the_email_as_entered_and_trims_names() -> None:
    request = RegisterRequest.model_validate(register())
    assert request.email == "Ann.Smith@Example.ORG"
    assert request.full_name == "Ann"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "ann@"),
        ("email", "no at sign"),
        ("usertype", "admin"),
        ("password", "1234567"),
        ("full_name", "   "),
        ("phone", ""),
        ("phone", "1" * 51),
        ("full_name", 7),
    ],
)
def test_registration_rules(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as raised:
        RegisterRequest.model_validate(register(**{field: value}))
    assert raised.value.errors()[0]["loc"] == (field,)


def test_request_models_do_not_coerce_types_but_ignore_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        QuestionCreate.model_validate_json('{"question_text": "hi", "doctor_id": "3"}')
    question = QuestionCreate.model_validate_json('{"question_text": "hi", "colour": "blue"}')
    assert question.doctor_id is None


def test_patch_models_tell_missing_from_null() -> None:
    assert XRayUpdate.model_validate_json("{}").model_fields_set == set()
    assert XRayUpdate.model_validate_json('{"description_of_xray": null}').model_fields_set == {
        "description_of_xray"
    }
    with pytest.raises(ValidationError):
        XRayUpdate.model_validate_json('{"name_of_xray": null}')


def test_upload_fields_arrive_as_form_strings() -> None:
    fields = XRayUploadFields.model_validate(
        {"name_of_xray": "Hand", "type_of_xray": "limb", "user_id": "12"}
    )
    assert fields.user_id == 12
    with pytest.raises(ValidationError):
        XRayUploadFields.model_validate({"name_of_xray": "Hand", "type_of_xray": "foot"})


def test_responses_ignore_fields_added_later() -> None:
    user = {
        "id": 1,
        "full_name": "A",
        "email": "a@b.c",
        "phone": None,
        "usertype": "doctor",
        "is_active": True,
        "created_at": "2026-11-27T17:00:00Z",
        "updated_at": "2026-11-27T17:00:00+00:00",
        "shoe_size": 44,
    }
    page = Page[User].model_validate_json(
        json.dumps({"items": [user], "next_cursor": None, "total": 1})
    )
    assert page.items[0].usertype == "doctor"
    assert page.items[0].created_at.utcoffset() is not None
