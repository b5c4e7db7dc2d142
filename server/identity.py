"""Whether a film's DICOM patient fields agree with the account it is filed under. A film
uploaded by a patient, or assigned from the inbox by an admin, may say it is someone else's:
the doctor reading it must be told plainly."""

import re

from server.orm import XRayRow

_WORDS = re.compile(r"[^\W\d_]+")


def name_words(name: str) -> set[str]:
    """The words of a person's name, in any order: "Patient^Paula" and "Paula Patient" agree
    (DICOM writes Family^Given^Middle^Prefix^Suffix)."""
    return {word.casefold() for word in _WORDS.findall(name)}


def identity_warnings(xray: XRayRow) -> list[str]:
    """What the file says that disagrees with the account, in words (empty: nothing does)."""
    patient = xray.patient
    warnings = []
    file_id, number = xray.file_patient_id, patient.record_number
    if file_id and (number is None or file_id.strip().casefold() != number.casefold()):
        warnings.append(
            f"The file's patient ID is “{file_id}”, but {patient.full_name}'s record number "
            f"is {number or 'not set'}."
        )
    file_name = xray.file_patient_name
    if file_name:
        said, known = name_words(file_name), name_words(patient.full_name)
        if said and not (said <= known or known <= said):
            shown = " ".join(part for part in file_name.split("^") if part)
            warnings.append(
                f"The file names the patient “{shown}”, but it is filed under {patient.full_name}."
            )
    return warnings
