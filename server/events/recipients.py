"""Who receives which event (the contract's table), decided when the event is sent from the
audience its writer recorded: one doctor, every doctor, the patient, the admins."""

from dataclasses import dataclass

from server.orm import EventRow
from shared.enums import UserType
from shared.models import Event


@dataclass(frozen=True, slots=True)
class Listener:
    """The user behind a socket, as far as delivery needs to know them."""

    user_id: int
    usertype: UserType


def receives(listener: Listener, event: EventRow) -> bool:
    if listener.usertype == UserType.patient:
        return event.to_patient and event.patient_id == listener.user_id
    if listener.usertype == UserType.doctor:
        return event.all_doctors or event.doctor_id == listener.user_id
    return event.to_admins


def frame(event: EventRow) -> str:
    """The text frame of an event: ids only, never names or texts."""
    return Event(
        id=event.id,
        type=event.type,
        at=event.at,
        object_type=event.object_type,
        object_id=event.object_id,
        patient_id=event.patient_id,
    ).model_dump_json()
