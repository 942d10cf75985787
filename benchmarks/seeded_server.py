"""Start the Chat API under uvicorn with its benchmark fixture already stored.

``python benchmarks/seeded_server.py --port P --fixture F.json [--chats 50] [--history N]
[--fanout 10,100,500] [--writers K]`` builds the app in this process with
``impl.app.create_app(Settings.from_env())`` (so ``CHAT_RATE_LIMIT`` and friends apply),
serves it with uvicorn on uvloop + httptools, and then seeds it:

* users, chats and group memberships over the server's own HTTP API (dev endpoints and
  REST, exactly as a client would);
* the ``--history`` messages of the reader's first chat by cloning one real message,
  sent over HTTP, straight into the store's ``messages`` collection. Unique indexes of that
  collection are dropped for the bulk insert and rebuilt afterwards: mongomock checks a
  unique index by scanning the whole collection on every insert, which would make 100k
  single inserts quadratic.

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
import uvicorn

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import seed

HOST = "127.0.0.1"
BULK_CHUNK = 5_000


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


def bulk_history(store: Any, template_id: str, extra: int) -> None:
    """Insert ``extra`` older copies of one stored message into the same chat (straight
    into the database, keeping the chat's message counter in step)."""
    from bson import ObjectId

    messages = store.db["messages"]
    template = messages.find_one({"_id": ObjectId(template_id)})
    if template is None:
        raise RuntimeError("the template message is not in the store")
    uniques = {k: v for k, v in messages.index_information().items() if v.get("unique")}
    for name in uniques:
        messages.drop_index(name)
    for start in range(0, extra, BULK_CHUNK):
        stop = min(extra, start + BULK_CHUNK)
        messages.insert_many([_clone(template, i) for i in range(start, stop)])
    for name, info in uniques.items():
        options = {k: info[k] for k in ("sparse", "partialFilterExpression") if k in info}
        messages.create_index(info["key"], name=name, unique=True, **options)
    store.db["chats"].update_one({"_id": template["chatId"]}, {"$inc": {"messageCount": extra}})


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
    app, store = build_app()
    config = uvicorn.Config(
        app,
        host=HOST,
        port=args.port,
        http="httptools",
        ws="websockets",
        lifespan="on",
        access_log=False,
        log_level="warning",
    )
    server = uvicorn.Server(config)
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
