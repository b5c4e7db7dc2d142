"""Leaving with unsaved work: Save all, Discard, or Cancel (stay)."""

from collections.abc import Callable

from PySide6.QtWidgets import QMessageBox, QWidget

from desktop.session import Session


def ask_about_unsaved_work(
    parent: QWidget, session: Session, proceed: Callable[[], None]
) -> QMessageBox:
    """Ask, window-modal; `proceed` runs once the work is saved (every draft) or discarded."""
    drafts = session.drafts.all()
    box = QMessageBox(parent)
    box.setObjectName("unsaved-work")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Unsaved work")
    box.setText("You have work that is not saved:")
    box.setInformativeText("\n".join(f"• {draft.description}" for draft in drafts))
    save = box.addButton("Save all", QMessageBox.ButtonRole.AcceptRole)
    discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(save)

    def answered() -> None:
        clicked = box.clickedButton()
        if clicked is discard:
            proceed()
        elif clicked is save:
            _save_all(parent, session, proceed)

    box.finished.connect(answered)
    box.open()
    return box


def _save_all(parent: QWidget, session: Session, proceed: Callable[[], None]) -> None:
    drafts = session.drafts.all()
    outcomes: list[bool] = []

    def done(ok: bool) -> None:
        outcomes.append(ok)
        if len(outcomes) < len(drafts):
            return
        if all(outcomes):
            proceed()
        else:
            failed = QMessageBox(parent)
            failed.setObjectName("unsaved-work-failed")
            failed.setIcon(QMessageBox.Icon.Critical)
            failed.setWindowTitle("Not saved")
            failed.setText(
                "Some of your work could not be saved, so nothing was discarded and you are "
                "still logged in. The reason is shown where the work is."
            )
            failed.open()

    for draft in drafts:
        task = draft.save()
        task.succeeded.connect(lambda _result: done(True))
        task.failed.connect(lambda _error: done(False))
        task.cancelled.connect(lambda: done(False))
