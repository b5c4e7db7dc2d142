"""A question and its answers, as a readable thread."""

from html import escape

from PySide6.QtWidgets import QTextBrowser, QWidget

from desktop.models.paged import display
from shared.models import Question


class ThreadView(QTextBrowser):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setPlaceholderText("Select a question to read it and its answers.")

    def show_question(self, question: Question | None, names: dict[int, str]) -> None:
        if question is None:
            self.clear()
            return

        def who(user_id: int | None) -> str:
            if user_id is None:
                return "any doctor"
            return escape(names.get(user_id, f"user #{user_id}"))

        def paragraphs(text: str) -> str:
            return "<br>".join(escape(line) for line in text.splitlines())

        parts = [
            f"<h3>Question to {who(question.doctor_id)}</h3>",
            f"<p style='color:gray'>Asked by {who(question.patient_id)} on "
            f"{escape(display(question.created_at))} · {escape(question.status.value)}</p>",
            f"<p>{paragraphs(question.question_text)}</p>",
        ]
        if question.xray_id is not None:
            parts.append(f"<p><i>About x-ray #{question.xray_id}</i></p>")
        if not question.responses:
            parts.append("<p style='color:gray'><i>No answer yet.</i></p>")
        for response in question.responses:
            parts.append(
                f"<hr><p><b>{who(response.doctor_id)}</b> "
                f"<span style='color:gray'>{escape(display(response.created_at))}</span></p>"
                f"<p>{paragraphs(response.response_text)}</p>"
            )
        self.setHtml("".join(parts))
