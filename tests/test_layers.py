"""The rooms' arrows run one way: the domain and the store know no web framework, and the
README quotes the middleware stack exactly as `impl.app` builds it. (The full layering is
import-linter's job in `tox -e lint`; these are the checks it cannot make.)"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from impl.app import create_app
from impl.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
WEB_FRAMEWORKS = ("connexion", "starlette", "uvicorn", "socketio", "engineio")

IMPORT_WITHOUT_FRAMEWORKS = textwrap.dedent(
    """
    import importlib, pkgutil, sys

    BLOCKED = {blocked!r}

    class Refuse:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"{{name}} is made unimportable here")
            return None

    sys.meta_path.insert(0, Refuse())
    import impl.{room} as room
    for info in pkgutil.walk_packages(room.__path__, "impl.{room}."):
        importlib.import_module(info.name)
    loaded = sorted(n for n in sys.modules if n.split(".")[0] in BLOCKED)
    assert not loaded, loaded
    print("imported", len([n for n in sys.modules if n.startswith("impl.{room}")]))
    """
)


@pytest.mark.parametrize("room", ["domain", "store"])
def test_a_room_imports_without_any_web_framework(room: str) -> None:
    code = IMPORT_WITHOUT_FRAMEWORKS.format(blocked=WEB_FRAMEWORKS, room=room)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) > 3


def test_the_blocker_would_notice_a_framework_import() -> None:
    code = IMPORT_WITHOUT_FRAMEWORKS.format(blocked=WEB_FRAMEWORKS, room="web")
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode != 0 and "made unimportable here" in done.stderr


def test_the_readme_quotes_the_middleware_stack_in_order() -> None:
    app = create_app(Settings())
    built = [layer.name for layer in app.layers]
    app.close()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quoted = re.search(
        r"<!-- middleware stack: begin -->\n(.*?)<!-- middleware stack: end -->", readme, re.DOTALL
    )
    assert quoted is not None, "the README's Layout section no longer quotes the stack"
    names = re.findall(r"^\s*\d+\.\s+`(\w+)`", quoted.group(1), re.MULTILINE)
    assert names == [*built, "Connexion"]
