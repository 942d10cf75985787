"""Named calls over the Chat API, for the walkthrough notebooks.

Every REST operation of `openapi.yaml` is a method named exactly like its `operationId`
(`send_message`, `list_chat_events`, ...): the dev operations live on `ChatAPI`, the
others on `User`, which holds one user's token (`client`). Each call returns a `Response`
(`responses`) whose display is the request line, the status and the JSON body with every
id, token and timestamp replaced by a stable placeholder (`<chat 1>`, `<user Alice>`,
`<time>`; `display`), so that the notebooks' outputs read the same on every run and
every machine.

`Server` (`server`) starts `python -m impl serve --no-demo` in a child process on a free
port, and `Mutant` one of the broken variants the conformance kit's tests catch; `kit`
runs the conformance kit and shows two runs side by side; `Live` (`sockets`) is one
user's Socket.IO connection (python-socketio's `AsyncClient`) that records every event it
receives and proves that no further event came with a barrier, never a sleep.
"""

from .client import ChatAPI, User
from .display import Aliases, reproducible_plots, silenced_stdout, table
from .responses import Response
from .server import Mutant, Server
from .sockets import Live, describe, side_by_side

__all__ = [
    "Aliases",
    "ChatAPI",
    "Live",
    "Mutant",
    "Response",
    "Server",
    "User",
    "describe",
    "reproducible_plots",
    "side_by_side",
    "silenced_stdout",
    "table",
]
