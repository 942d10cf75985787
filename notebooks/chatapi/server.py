"""The reference server for a notebook: `python -m impl serve --no-demo` in a child process.

`impl.launcher` starts it on a free port of 127.0.0.1 with the embedded store and none of
the settings variables of the notebook's environment, so nothing there points it
elsewhere or changes the rules it demonstrates.

`Mutant` starts one of the deliberately broken variants the conformance kit's tests use
(`tests/conformance/mutants.py NAME`), the same way: they live with the tests, never in
the product.
"""

from __future__ import annotations

import sys

from impl.launcher import Launched, server_env
from impl.resources import CHECKOUT

MUTANTS = CHECKOUT / "tests" / "conformance" / "mutants.py"


class Server(Launched):
    """The reference server in a child process, on the embedded store, without demo users;
    `Server(CHAT_RATE_LIMIT="5")` sets a settings variable."""

    def __init__(self, **settings: str) -> None:
        super().__init__(settings={"LOG_LEVEL": "warning", **settings})

    def start(self, timeout: float = 30.0) -> Server:
        """Start it and return once it listens."""
        super().start(timeout)
        return self

    def stop(self, grace: float = 10.0) -> None:
        """Stop it (nothing to display: a notebook cell ending here shows no exit code)."""
        super().stop(grace)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Server python -m impl serve --no-demo: {state} on a free local port>"


class Mutant(Server):
    """A broken variant of the server (`tests/conformance/mutants.py`), in a child process."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.program = [sys.executable, str(MUTANTS), name]
        self.args = []
        self.env = server_env()
        self.cwd = CHECKOUT

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Mutant {self.name}: {state} on a free local port>"
