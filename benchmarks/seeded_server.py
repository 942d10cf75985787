"""Start the Chat API under uvicorn with its benchmark fixture already stored.

``python benchmarks/seeded_server.py --port P --fixture F.json [--chats 50] [--history N]
[--fanout 10,100,500] [--writers K]`` builds the app in this process with
``impl.app.create_app(Settings.from_env())`` (so ``CHAT_RATE_LIMIT`` and friends apply),
serves it with uvicorn on uvloop + httptools as ``python -m impl serve`` does
(``impl.serve.server_for``: the bounded HTTP parser, the heap settled once started), and
then seeds it:

* users, chats and group memberships over the server's own HTTP API (dev endpoints and
  REST, exactly as a client would);
* the ``--history`` messages of the reader's first chat by cloning one real message,
  sent over HTTP, straight into the store's ``messages`` collection: an old conversation,
  the two participants taking turns, every message read by both (so the chat's counters,
  ``messageCount`` and ``unread``, stay what HTTP sends and reads would have left). Unique
  indexes of that collection are dropped for the bulk insert and rebuilt afterwards:
  mongomock checks a unique index by scanning the whole collection on every insert, which
  would make 100k single inserts quadratic.

The hosted app gets one extra route, ``POST /bench/prefill`` (benchmark only, never part
of the Chat API): ``{"templates": [message ids], "each": n}`` stores ``n`` earlier copies
of every template message as if they had been sent over HTTP just before it, with their
``new-message`` events and their notifications for the (offline) other participant, and
moves the chat's ``messageCount``, ``seq`` and unread counters to match. The runner uses it
to give the POST-after-traffic row its 10,000 earlier posts before every rep. With
``"allowance": true`` each copy also takes its sender's message allowance now, through
the domain's own ``rate_limits.reserve`` (so in whatever shape the code in use stores it):
the allowance rows' 3,000 posts in the window.

When the fixture is complete it is written to ``--fixture`` (atomically); the runner waits
for that file. The process serves until it gets SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import seed

HOST = "127.0.0.1"
BULK_CHUNK = 5_000
PREFILL_PATH = "/bench/prefill"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fixture", type=Path, required=True)
    parser.add_argument("--chats", type=int, default=0, help="direct chats of the reader")
    parser.add_argument("--history", type=int, default=0, help="messages in the first chat")
    parser.add_argument("--fanout", default="", help="comma list of room sizes")
    parser.add_argument("--writers", type=int, default=0, help="senders with a chat each")
    return parser.parse_args(argv)


def build_app() -> tuple[Any, Any]:
    """The ASGI app and its store, built from the environment's settings.

    Logging is configured as ``python -m impl serve`` does (``LOG_LEVEL``).
    """
    from impl.app import create_app
    from impl.settings import Settings

    settings = Settings.from_env().with_overrides(host=HOST, seed_demo=False)
    logging.basicConfig(
        level=getattr(logging, settings.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    app = create_app(settings)
    return app, find_store(app)


def find_store(app: Any) -> Any:
    """The ``impl.store.Store`` behind the app, or None when it cannot be reached."""
    for holder in (app, getattr(app, "state", None)):
        services = getattr(holder, "services", None)
        if services is not None and hasattr(services, "store"):
            return services.store
    return None


def _clone(template: dict[str, Any], index: int) -> dict[str, Any]:
    """The ``index``-th copy of a message, ``index + 1`` ms older than the template."""
    from bson import ObjectId

    doc = dict(template)
    doc["_id"] = ObjectId()
    doc["content"] = f"history message {index}"
    doc["createdAt"] = template["createdAt"] - timedelta(milliseconds=index + 1)
    doc["readBy"] = [dict(entry) for entry in template.get("readBy", [])]
    if "clientKey" in doc:
        doc["clientKey"] = f"id:{doc['_id']}"
    doc.pop("clientMessageId", None)
    return doc


def _insert_without_unique(collection: Any, docs: Any) -> None:
    """Insert an iterable of documents in chunks with the unique indexes rebuilt after."""
    uniques = {k: v for k, v in collection.index_information().items() if v.get("unique")}
    for name in uniques:
        collection.drop_index(name)
    chunk: list[dict[str, Any]] = []
    for doc in docs:
        chunk.append(doc)
        if len(chunk) == BULK_CHUNK:
            collection.insert_many(chunk)
            chunk = []
    if chunk:
        collection.insert_many(chunk)
    for name, info in uniques.items():
        options = {k: info[k] for k in ("sparse", "partialFilterExpression") if k in info}
        collection.create_index(info["key"], name=name, unique=True, **options)


def _template(store: Any, template_id: str) -> dict[str, Any]:
    from bson import ObjectId

    template = store.db["messages"].find_one({"_id": ObjectId(template_id)})
    if template is None:
        raise RuntimeError("the template message is not in the store")
    doc: dict[str, Any] = template
    return doc


def bulk_history(store: Any, template_id: str, extra: int) -> None:
    """Insert ``extra`` older messages into the template's chat: the participants take
    turns, and every message is read by all of them (so no unread counter moves)."""
    template = _template(store, template_id)
    chat = store.db["chats"].find_one({"_id": template["chatId"]})
    people = list(chat["participants"])

    def conversation() -> Any:
        for i in range(extra):
            doc = _clone(template, i)
            doc["senderId"] = people[i % len(people)]
            doc["readBy"] = [{"userId": p, "readAt": doc["createdAt"]} for p in people]
            yield doc

    _insert_without_unique(store.db["messages"], conversation())
    store.db["chats"].update_one({"_id": template["chatId"]}, {"$inc": {"messageCount": extra}})


def earlier_posts(store: Any, template_id: str, count: int) -> None:
    """Store ``count`` posts sent just before the template, as a send over HTTP stores
    them: the message, its ``new-message`` event (numbered before the template's), and a
    notification for every other participant; the chat's ``messageCount``, ``seq`` and
    the others' unread counters move by ``count``."""
    db = store.db
    template = _template(store, template_id)
    chat_id = template["chatId"]
    chat = db["chats"].find_one({"_id": chat_id})
    last_seq = int(chat["seq"])
    event = db["events"].find_one({"chatId": chat_id, "seq": last_seq})
    notes = list(db["notifications"].find({"messageId": template["_id"]}))
    if event is None:
        raise RuntimeError("the template message has no new-message event")
    posts = [_clone(template, i) for i in range(count)]
    _insert_without_unique(db["messages"], posts)
    db["events"].update_one({"_id": event["_id"]}, {"$set": {"seq": last_seq + count}})
    _insert_without_unique(
        db["events"], (_event(event, m, last_seq + count - 1 - i) for i, m in enumerate(posts))
    )
    _insert_without_unique(db["notifications"], (_note(n, m) for m in posts for n in notes))
    others = [p for p in chat["participants"] if p != template["senderId"]]
    counters = {f"unread.{p}": count for p in others}
    db["chats"].update_one(
        {"_id": chat_id}, {"$inc": {"messageCount": count, "seq": count, **counters}}
    )


def _event(template: dict[str, Any], message: dict[str, Any], seq: int) -> dict[str, Any]:
    """The template's ``new-message`` event, renumbered and showing ``message``."""
    from bson import ObjectId

    from impl.domain.presenters import jsonable

    payload = dict(template["payload"])
    view = dict(payload.get("message", {}))
    fields = ("_id", "content", "createdAt")
    view.update(jsonable({k: message[k] for k in fields}))
    payload.update(message=view, seq=seq)
    return {
        **template,
        "_id": ObjectId(),
        "seq": seq,
        "payload": payload,
        "createdAt": message["createdAt"],
    }


def _note(template: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    from bson import ObjectId

    return {
        **template,
        "_id": ObjectId(),
        "messageId": message["_id"],
        "createdAt": message["createdAt"],
    }


def take_allowance(app: Any, store: Any, template_id: str, count: int) -> None:
    """Take ``count`` from the template sender's message allowance, as ``count`` sends made
    just now would have."""
    from impl.domain import rate_limits
    from impl.domain.services import Caller

    caller = Caller(app.services, user={"_id": _template(store, template_id)["senderId"]})
    for _ in range(count):
        rate_limits.reserve(caller)


def with_prefill(app: Any, store: Any) -> Any:
    """The app, plus ``POST /bench/prefill`` answered in this process (see the docstring)."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != PREFILL_PATH:
            await app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = json.loads(body or b"{}")
        for template_id in request["templates"]:
            earlier_posts(store, template_id, int(request["each"]))
            if request.get("allowance"):
                take_allowance(app, store, template_id, int(request["each"]))
        answer = json.dumps({"stored": len(request["templates"]) * int(request["each"])})
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer.encode()})

    return wrapped


async def _history(seeder: seed.Seeder, store: Any, reader: dict[str, Any], count: int) -> None:
    user = seed.User(id=reader["userId"], token=reader["token"])
    chat_id = reader["chatIds"][0]
    template = await seeder.send(user, chat_id, "history template")
    already = 2  # the chat's greeting and the template
    if store is not None:
        bulk_history(store, str(template["_id"]), max(0, count - already))
        return
    if count > 5_000:
        raise RuntimeError("no store access: cannot seed a large history over HTTP")
    await seed.gather_all(
        seeder.send(user, chat_id, f"history message {i}") for i in range(count - already)
    )


async def seed_all(args: argparse.Namespace, base: str, store: Any) -> dict[str, Any]:
    """Build the fixture the arguments ask for and describe it."""
    fixture: dict[str, Any] = {"base": base}
    async with aiohttp.ClientSession() as session:
        seeder = seed.Seeder(session, base)
        if args.chats:
            fixture["reader"] = await seed.reader_fixture(seeder, args.chats)
            if args.history:
                await _history(seeder, store, fixture["reader"], args.history)
                fixture["reader"]["historyChatId"] = fixture["reader"]["chatIds"][0]
        if args.writers:
            fixture["writer"] = await seed.writer_fixture(seeder, args.writers)
        sizes = [int(s) for s in args.fanout.split(",") if s.strip()]
        if sizes:
            fixture["fanout"] = await seed.fanout_fixture(seeder, sizes)
    if store is not None:
        fixture["storedMessages"] = store.db["messages"].count_documents({})
    fixture["bulkInsert"] = store is not None
    return fixture


def _write_atomically(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


async def _serve(args: argparse.Namespace) -> None:
    from impl.serve import server_for

    app, store = build_app()
    # started as `python -m impl serve` starts it: its bounded HTTP parser, its heap settled
    settings = app.services.settings.with_overrides(port=args.port)
    server = server_for(app, settings, log_level="warning", settle=True)
    if store is not None:
        server.config.app = with_prefill(app, store)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()  # re-raise why it stopped
            return
        await asyncio.sleep(0.05)
    fixture = await seed_all(args, f"http://{HOST}:{args.port}", store)
    _write_atomically(args.fixture, fixture)
    await serving


def main(argv: list[str] | None = None) -> None:
    """Entry point; runs on uvloop when it is installed."""
    args = _parse_args(argv)
    try:
        import uvloop
    except ImportError:
        asyncio.run(_serve(args))
    else:
        uvloop.run(_serve(args))


if __name__ == "__main__":
    main()
