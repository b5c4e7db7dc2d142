"""A question and its answers, as a readable thread."""

from html import escape

from PySide6.QtCore import QUrl, Signal
from PySide6.QtWidgets import QTextBrowser, QWidget

from desktop.models.paged import display
from shared.models import Question


class ThreadView(QTextBrowser):
    """`xray_requested(id)` when the reader follows the link to the film asked about."""

    xray_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setAccessibleName("Question and answers")
        self.setPlaceholderText("Select a question to read it and its answers.")
        self.anchorClicked.connect(self._follow)

    def _follow(self, url: QUrl) -> None:
        if url.scheme() == "xray" and url.path().isdigit():
            self.xray_requested.emit(int(url.path()))

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
            parts.append(
                f"<p><a href='xray:{question.xray_id}'>Open the x-ray this question is about"
                "</a></p>"
            )
        if not question.responses:
            parts.append("<p style='color:gray'><i>No answer yet.</i></p>")
        for response in question.responses:
            parts.append(
                f"<hr><p><b>{who(response.doctor_id)}</b> "
                f"<span style='color:gray'>{escape(display(response.created_at))}</span></p>"
                f"<p>{paragraphs(response.response_text)}</p>"
            )
        self.setHtml("".join(parts))
