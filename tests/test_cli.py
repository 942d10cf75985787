"""The command line: `token` prints a usable token; a busy port fails at once.

(`--help` is tested with the settings table, in test_settings.py.)
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import jwt
from test_faults import run_cli

from impl.__main__ import main
from impl.domain.dev import DEMO_CAST
from impl.settings import DEV_JWT_SECRET


def test_token_for_a_demo_user(capsys) -> None:  # type: ignore[no-untyped-def]
    demo_id = DEMO_CAST[0][0]
    assert main(["token", demo_id]) == 0
    token = capsys.readouterr().out.strip()
    assert jwt.decode(token, DEV_JWT_SECRET, algorithms=["HS256"])["sub"] == demo_id


def test_token_for_an_unknown_user_fails(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["token", "0123456789abcdef01234567"]) == 1
    assert "unknown user" in capsys.readouterr().err


def test_token_for_a_malformed_id_fails(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["token", "nope"]) == 2


def test_a_busy_port_fails_first_with_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli("serve", "--port", str(port))
    assert done.returncode == 2
    assert done.stdout == ""  # no demo users, no docs URLs
    assert done.stderr.splitlines() == [
        f"error: port {port} on 127.0.0.1 is already in use; choose another with --port"
    ]


def test_help_names_the_command_the_user_typed() -> None:
    script = Path(sys.executable).with_name("chat-api")
    assert script.exists(), "the package's console script is not installed"
    done = subprocess.run([script, "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert done.stdout.startswith("usage: chat-api ")
    assert run_cli("--help").stdout.startswith("usage: python -m impl ")
