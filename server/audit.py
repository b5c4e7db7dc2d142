"""The audit trail: who read or changed which patient's data, and every refused attempt."""

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.orm import AuditEventRow
from shared.enums import AuditAction, AuditObjectType, AuditOutcome

ACTION_BY_METHOD = {
    "GET": AuditAction.read,
    "HEAD": AuditAction.read,
    "POST": AuditAction.create,
    "PUT": AuditAction.update,
    "PATCH": AuditAction.update,
    "DELETE": AuditAction.delete,
}


@dataclass(slots=True)
class Subject:
    """What a request is about, so that a refusal can be recorded against it."""

    object_type: AuditObjectType
    object_id: int | None = None
    patient_id: int | None = None


# One event's column values. Plain dicts, not ORM rows, until they are written: a page of fifty
# questions records fifty events, and an ORM instance each was a measured 7 % of such a read.
AuditValues = dict[str, object]


@dataclass(slots=True)
class AuditTrail:
    """The events of one request. Successful events are committed with the request's own
    transaction (all or nothing); a refusal is written in a transaction of its own."""

    ip: str | None
    action: AuditAction
    subject: Subject | None
    actor_id: int | None = None
    events: list[AuditValues] = field(default_factory=list)

    def record(
        self,
        object_type: AuditObjectType,
        object_id: int | None,
        patient_id: int | None,
        *,
        action: AuditAction | None = None,
        outcome: AuditOutcome = AuditOutcome.ok,
        actor_id: int | None = None,
        detail: str | None = None,
    ) -> None:
        self.events.append(
            self._values(
                object_type,
                object_id,
                patient_id,
                action=action or self.action,
                outcome=outcome,
                actor_id=actor_id if actor_id is not None else self.actor_id,
                detail=detail,
            )
        )

    def _values(
        self,
        object_type: AuditObjectType,
        object_id: int | None,
        patient_id: int | None,
        *,
        action: AuditAction,
        outcome: AuditOutcome,
        actor_id: int | None,
        detail: str | None,
    ) -> AuditValues:
        """One event's columns, every event with the same keys (the group commit inserts many
        in one statement)."""
        return {
            "at": utcnow(),
            "actor_id": actor_id,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "patient_id": patient_id,
            "outcome": outcome,
            "ip": self.ip,
            "detail": detail,
        }

    def record_patients(self, object_type: AuditObjectType, patient_ids: set[int]) -> None:
        """One event per patient whose data a list returned, all at the time of the read."""
        read = self._values(
            object_type,
            None,
            None,
            action=self.action,
            outcome=AuditOutcome.ok,
            actor_id=self.actor_id,
            detail=None,
        )
        self.events.extend(read | {"patient_id": patient_id} for patient_id in sorted(patient_ids))

    def about(
        self, object_type: AuditObjectType, object_id: int | None, patient_id: int | None
    ) -> None:
        self.subject = Subject(object_type, object_id, patient_id)

    def refusal(self, outcome: AuditOutcome) -> AuditValues | None:
        if self.subject is None:
            return None
        subject = self.subject
        return self._values(
            subject.object_type,
            subject.object_id,
            subject.patient_id,
            action=self.action,
            outcome=outcome,
            actor_id=self.actor_id,
            detail=None,
        )

    def flush_into(self, db: AsyncSession) -> None:
        """Add the events to `db`'s transaction (a write's: all or nothing)."""
        db.add_all(AuditEventRow(**values) for values in self.take())

    def take(self) -> list[AuditValues]:
        """The events recorded so far, handed over (the trail keeps recording after)."""
        events, self.events = self.events, []
        return events
