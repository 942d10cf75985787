"""The access log, and the last word on a request nothing else answered.

`AccessLog`, the outermost layer of every HTTP request that is not a docs page, gives the
request an id (a client's `X-Request-ID`, made printable and short, or a new one), echoes
it on the response, starts the request's record (impl.web.context) and, once the request
is over, writes one line on `impl.access` with its method, path, status, duration, id and
user as fields of their own. An exception that escapes every inner layer is logged with
its traceback and answered with the contract's problem document (500), never the
server's plain-text error page.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from impl.errors import DomainError
from impl.web.context import begin_request
from impl.web.problems import send_problem

access_log = logging.getLogger("impl.access")
log = logging.getLogger("impl.web.access_log")
# what a client-sent X-Request-ID may hold in a log line and the echoed header
UNPRINTABLE = re.compile(r"[^\x21-\x7e]")
REQUEST_ID_LIMIT = 64


def request_id_of(scope: Scope) -> str:
    given = Headers(scope=scope).get("x-request-id", "")
    return UNPRINTABLE.sub("?", given[:REQUEST_ID_LIMIT]) if given else uuid.uuid4().hex


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        info = begin_request(request_id)
        status, responded = 500, False

        async def send_with_id(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                headers = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if responded:
                raise
            await send_problem(send_with_id, DomainError("the request could not be handled"))
        finally:
            took = round((time.perf_counter() - started) * 1000, 2)
            method, path = scope["method"], scope["path"]
            access_log.info(
                "%s %s %s %.2f ms request=%s user=%s",
                method,
                path,
                status,
                took,
                request_id,
                info.get("userId", "-"),
                extra={
                    "requestId": request_id,
                    "userId": info.get("userId"),
                    "method": method,
                    "path": path,
                    "status": status,
                    "durationMs": took,
                },
            )
