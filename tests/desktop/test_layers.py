"""The desktop's layers: widgets ask operations; only operations (and the session's plumbing)
hold the API client. Checked on the source, so a new widget cannot slip past it."""

import ast
from pathlib import Path

DESKTOP = Path(__file__).resolve().parents[2] / "desktop"
# Where the client may be held: the operations, the client itself, the session that owns
# it, the app that makes the session, and the viewer's loader that operations call.
MAY_HOLD_THE_CLIENT = {"api.py", "http.py", "session.py", "app.py", "images.py", "selftest.py"}


def modules() -> list[Path]:
    return [
        path
        for path in DESKTOP.rglob("*.py")
        if "operations" not in path.relative_to(DESKTOP).parts
        and path.name not in MAY_HOLD_THE_CLIENT
    ]


def test_no_widget_calls_the_api_client_itself() -> None:
    offences = []
    for path in modules():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "api":
                offences.append(f"{path.relative_to(DESKTOP)}:{node.lineno} uses .api")
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") in (
                "ApiClient",
                "HttpClient",
            ):
                offences.append(f"{path.relative_to(DESKTOP)}:{node.lineno} makes a client")
    assert offences == []


def test_the_check_sees_the_modules_it_guards() -> None:
    names = {path.relative_to(DESKTOP).as_posix() for path in modules()}
    assert {"login.py", "main_window.py", "models/paged.py"} <= names
    assert any(name.startswith("widgets/") for name in names)
