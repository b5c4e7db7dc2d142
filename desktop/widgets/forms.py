"""Showing a refused request in words: the problem's detail, next to the field it concerns."""

from PySide6.QtWidgets import QLabel, QWidget

from desktop.api import ApiError

ERROR_STYLE = "color: #b00020;"


def error_label(parent: QWidget | None = None) -> QLabel:
    label = QLabel("", parent)
    label.setStyleSheet(ERROR_STYLE)
    label.setWordWrap(True)
    label.setVisible(False)
    return label


def set_message(label: QLabel, text: str) -> None:
    label.setText(text)
    label.setVisible(bool(text))


def show_error(error: ApiError, general: QLabel, fields: dict[str, QLabel] | None = None) -> None:
    """Field errors go beside their fields; whatever has no field goes to `general`."""
    fields = fields or {}
    for label in fields.values():
        set_message(label, "")
    unplaced = []
    for field, message in error.field_errors.items():
        if field in fields:
            set_message(fields[field], message)
        else:
            unplaced.append(f"{field}: {message}")
    set_message(
        general,
        "\n".join(unplaced) if unplaced else (error.detail if not error.field_errors else ""),
    )


def clear_errors(general: QLabel, fields: dict[str, QLabel] | None = None) -> None:
    set_message(general, "")
    for label in (fields or {}).values():
        set_message(label, "")
