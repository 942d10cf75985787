"""Server memory across Socket.IO connect/close cycles: does a closed socket leave anything?

Starts `python -m impl serve` (embedded store, through impl.launcher) on a free port,
then runs rounds of CYCLES sockets that each connect, join two chats, send `typing-start`
in both and close, and prints the server's resident memory (VmRSS) after each round. With
`--fresh-users` every cycle is a new user with a direct chat of their own (as on a real
server, where connections come from many users); otherwise PARALLEL users repeat. A server
that releases per-socket state levels off after the first rounds (the allocator keeps what
it has grown to); one that keeps it grows with every round.

    python benchmarks/socket_memory.py [--rounds 4] [--cycles 500] [--parallel 10] [--fresh-users]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import httpx
import socketio

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the checkout's package
    sys.path.insert(0, str(ROOT))

from impl.launcher import Launched  # noqa: E402 - found through the line above


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def fresh_cycle(http: httpx.AsyncClient, url: str, owner_id: str) -> None:
    """A new user with a direct chat of their own, then one cycle in that chat."""
    user = (await http.post("/api/dev/users", json={"name": "visitor"})).json()["data"]
    headers = {"Authorization": f"Bearer {user['token']}"}
    body = {"type": "direct", "participantIds": [owner_id]}
    r = await http.post("/api/chat", json=body, headers=headers)
    await cycle(url, user["token"], [r.json()["data"]["chat"]["_id"]])


async def cycle(url: str, token: str, chats: list[str]) -> None:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=10)
    for chat_id in chats:
        await client.call("join-chat-room", chat_id)
        await client.call("typing-start", {"chatId": chat_id})
    await client.disconnect()
    await client.shutdown()


def main(rounds: int, cycles: int, parallel: int, fresh: bool) -> None:
    settings = {"CHAT_RATE_LIMIT": "100000", "LOG_LEVEL": "warning"}
    with Launched(settings=settings) as server:
        asyncio.run(measure(server.url, server.pid, rounds, cycles, parallel, fresh))


async def measure(url: str, pid: int, rounds: int, cycles: int, parallel: int, fresh: bool) -> None:
    # No keep-alive: a connection the server closes as idle must not fail a request.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        users = []
        for n in range(parallel):
            r = await http.post("/api/dev/users", json={"name": f"user{n}"})
            users.append(r.json()["data"])
        first = users[0]
        headers = {"Authorization": f"Bearer {first['token']}"}
        chats = []
        for kind in ("direct", "group"):
            others = [u["user"]["_id"] for u in users[1:]]
            body = {"type": kind, "participantIds": others[:1] if kind == "direct" else others}
            r = await http.post("/api/chat", json=body, headers=headers)
            chats.append(r.json()["data"]["chat"]["_id"])
        print(f"server pid {pid}: RSS after start {rss_mib(pid):.1f} MiB")
        for round_number in range(1, rounds + 1):
            for _ in range(cycles // parallel):
                if fresh:
                    owner_id = first["user"]["_id"]
                    await asyncio.gather(*(fresh_cycle(http, url, owner_id) for _ in users))
                else:
                    await asyncio.gather(*(cycle(url, u["token"], chats) for u in users))
            await asyncio.sleep(1)  # let the server finish the last disconnects
            print(
                f"after round {round_number} ({round_number * cycles} cycles): "
                f"RSS {rss_mib(pid):.1f} MiB"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--cycles", type=int, default=500)
    parser.add_argument("--parallel", type=int, default=10)
    parser.add_argument("--fresh-users", action="store_true", help="a new user per cycle")
    args = parser.parse_args()
    main(args.rounds, args.cycles, args.parallel, args.fresh_users)
