"""The result of an x-ray: written as a preliminary, signed once (then the patient reads it),
amended only by addenda (docs/api.md, "Result lifecycle")."""

from html import escape

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.drafts import Draft
from desktop.http import ApiError
from desktop.models.paged import display
from desktop.operations import xrays as xray_ops
from desktop.runner import Task
from desktop.session import Session
from desktop.widgets.confirm import confirm
from desktop.widgets.forms import clear_errors, error_label, show_error
from shared.enums import ResultStatus
from shared.models import Addendum, XRay


def result_state(xray: XRay) -> str:
    """The result's status in words, as the panel's heading says it."""
    status = xray.result_status
    if status == ResultStatus.none:
        return "No result yet"
    if status == ResultStatus.preliminary:
        return "Preliminary — not signed, not shown to the patient"
    if xray.result_signed_at is None:
        # Made final before medsys recorded signatures (docs/api.md, "Results are signed").
        signed = "signed before signatures were recorded"
    else:
        signer = xray.result_signed_by_name or "a doctor"
        signed = f"signed by {signer} on {display(xray.result_signed_at)}"
    if status == ResultStatus.amended:
        count = len(xray.addenda)
        return f"Amended — {signed}; {count} addend{'um' if count == 1 else 'a'}"
    return f"Final — {signed}"


def addenda_html(addenda: list[Addendum]) -> str:
    return "".join(
        f"<p><b>Addendum</b> by {escape(addendum.author_name)}, "
        f"{escape(display(addendum.created_at))}:<br>"
        f"{escape(addendum.text).replace(chr(10), '<br>')}</p>"
        for addendum in addenda
    )


class ResultPanel(QWidget):
    """The doctor writes, saves and signs; after signing, the result is read-only and
    addenda are added. Everyone else reads what was signed."""

    updated = Signal(object)  # the x-ray as the server now has it

    def __init__(self, session: Session, writes: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._writes = writes
        self.xray: XRay | None = None
        self._filling = False  # while the fields show the server's values, edits are no drafts
        self.state = QLabel("", self)
        self.state.setWordWrap(True)
        self.state.setAccessibleName("Result status")
        self.result_edit = QPlainTextEdit(self)
        self.result_edit.setAccessibleName("Result")
        self.result_edit.setTabChangesFocus(True)
        self.save_button = QPushButton("Save draft", self)
        self.save_button.setToolTip("Keep the result as a preliminary: the patient does not see it")
        self.sign_button = QPushButton("Sign…", self)
        self.sign_button.setToolTip("Sign the result: it becomes final and the patient reads it")
        self.addenda = QLabel("", self)
        self.addenda.setWordWrap(True)
        self.addendum_button = QPushButton("Add addendum…", self)
        self.addendum_edit = QPlainTextEdit(self)
        self.addendum_edit.setAccessibleName("Addendum")
        self.addendum_edit.setTabChangesFocus(True)
        self.addendum_edit.setPlaceholderText("What the signed result did not say…")
        self.addendum_edit.setMaximumHeight(100)
        self.send_addendum_button = QPushButton("Add this addendum", self)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        self.error = error_label(self)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.sign_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.state)
        layout.addWidget(self.result_edit, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.addenda)
        layout.addWidget(self.addendum_button)
        layout.addWidget(self.addendum_edit)
        layout.addWidget(self.send_addendum_button)
        layout.addWidget(self.status)
        layout.addWidget(self.error)
        self.save_button.clicked.connect(self.save)
        self.sign_button.clicked.connect(self.ask_to_sign)
        self.addendum_button.clicked.connect(self._start_addendum)
        self.send_addendum_button.clicked.connect(self.add_addendum)
        self.result_edit.textChanged.connect(self._result_edited)
        self.addendum_edit.textChanged.connect(self._addendum_edited)
        self.show_xray(None)

    @property
    def signed(self) -> bool:
        return self.xray is not None and self.xray.result_final

    def show_xray(self, xray: XRay | None, keep_typing: bool = False) -> None:
        """Show an x-ray's result. `keep_typing`: the same x-ray changed on the server; the
        text being typed stays (it is a draft until saved)."""
        same = keep_typing and xray is not None and self.xray is not None
        same = same and xray.id == self.xray.id  # type: ignore[union-attr]
        self.xray = xray
        clear_errors(self.error)
        if not same:
            self.status.setText("")
        signed = self.signed
        editing = self._writes and xray is not None and not signed
        self.state.setText(f"<b>{result_state(xray)}</b>" if xray is not None else "")
        self.result_edit.setReadOnly(not editing)
        self.result_edit.setPlaceholderText(
            "Write the interpretation…"
            if self._writes
            else "The doctor has not signed a result yet."
        )
        self.save_button.setVisible(editing)
        self.sign_button.setVisible(editing)
        self.addenda.setText(addenda_html(xray.addenda) if xray is not None else "")
        self.addendum_button.setVisible(self._writes and signed)
        draft = self._session.drafts.get(("result", xray.id)) if xray is not None else None
        addendum = self._session.drafts.get(("addendum", xray.id)) if xray is not None else None
        self._filling = True
        if not (same and editing and draft is not None):
            self.result_edit.setPlainText(draft.value if draft and editing else _text(xray))
        if not same:
            self.addendum_edit.setPlainText(addendum.value if addendum and signed else "")
        self._filling = False
        writing_addendum = self._writes and signed and bool(self.addendum_edit.toPlainText())
        self.addendum_edit.setVisible(writing_addendum)
        self.send_addendum_button.setVisible(writing_addendum)
        if draft is not None and editing and not same:
            self.status.setText("Your unsaved draft of this result is back; it is not saved yet.")
        elif draft is not None and signed:
            self._session.drafts.drop(("result", xray.id))  # type: ignore[union-attr]
            self.status.setText("The result was signed meanwhile; your unsaved text was dropped.")

    def _result_edited(self) -> None:
        xray = self.xray
        if self._filling or xray is None or not self._writes or self.signed:
            return
        key, session = ("result", xray.id), self._session
        text = self.result_edit.toPlainText()
        if text.strip() == (xray.result_of_xray or "").strip():
            session.drafts.drop(key)
            return

        def save() -> Task:
            return xray_ops.save_result(
                session, xray.id, text.strip() or None, lambda _x: session.drafts.drop(key), _quiet
            )

        session.drafts.keep(key, Draft(f"the result of “{xray.name_of_xray}”", text, save))

    def _addendum_edited(self) -> None:
        xray = self.xray
        if self._filling or xray is None:
            return
        key, session = ("addendum", xray.id), self._session
        text = self.addendum_edit.toPlainText()
        if not text.strip():
            session.drafts.drop(key)
            return

        def save() -> Task:
            return xray_ops.add_addendum(
                session, xray.id, text.strip(), lambda _a: session.drafts.drop(key), _quiet
            )

        session.drafts.keep(key, Draft(f"an addendum to “{xray.name_of_xray}”", text, save))

    def save(self) -> None:
        self._send(xray_ops.save_result, "Draft saved; the patient does not see it yet.")

    def ask_to_sign(self) -> None:
        if self.xray is None:
            return
        if not self.result_edit.toPlainText().strip():
            self.error.setText("Write the result before signing it.")
            self.error.setVisible(True)
            return
        self.confirm_box = confirm(
            self,
            "Sign this result?",
            "Once signed, the result is final: the patient reads it, with your name and the "
            "time, and it can no longer be changed, only amended by an addendum.",
            self.sign,
            yes_text="Sign",
        )

    def sign(self) -> None:
        self._send(xray_ops.sign_result, "Signed. The patient can read the result now.")

    def _send(self, operation: object, done: str) -> None:
        xray = self.xray
        if xray is None:
            return
        text = self.result_edit.toPlainText().strip() or None
        self.save_button.setEnabled(False)
        self.sign_button.setEnabled(False)
        self.status.setText("")

        def saved(updated: XRay) -> None:
            self._enable()
            self._session.drafts.drop(("result", xray.id))
            self.show_xray(updated)
            self.status.setText(done)
            self.updated.emit(updated)

        def failed(error: ApiError) -> None:
            self._enable()
            show_error(error, self.error)

        operation(self._session, xray.id, text, saved, failed)  # type: ignore[operator]

    def _enable(self) -> None:
        self.save_button.setEnabled(True)
        self.sign_button.setEnabled(True)

    def _start_addendum(self) -> None:
        self.addendum_edit.setVisible(True)
        self.send_addendum_button.setVisible(True)
        self.addendum_edit.setFocus()

    def add_addendum(self) -> None:
        xray = self.xray
        text = self.addendum_edit.toPlainText().strip()
        if xray is None:
            return
        self.send_addendum_button.setEnabled(False)

        def added(_addendum: Addendum) -> None:
            self.send_addendum_button.setEnabled(True)
            self._session.drafts.drop(("addendum", xray.id))
            self.addendum_edit.clear()
            xray_ops.one(
                self._session, xray.id, self._reloaded, lambda e: show_error(e, self.error)
            )

        def failed(error: ApiError) -> None:
            self.send_addendum_button.setEnabled(True)
            show_error(error, self.error)

        xray_ops.add_addendum(self._session, xray.id, text, added, failed)

    def _failed(self, error: ApiError) -> None:
        show_error(error, self.error)

    def _reloaded(self, xray: XRay) -> None:
        self.show_xray(xray)
        self.status.setText("Addendum added. The patient can read it.")
        self.updated.emit(xray)


def _text(xray: XRay | None) -> str:
    return (xray.result_of_xray or "") if xray is not None else ""


def _quiet(_error: ApiError) -> None:
    """A draft saved on the way out: its failure has no window left to show in."""
