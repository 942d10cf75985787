"""The journal's memory stays within its cap whatever clients send: the three shapes an
adversarial run used to grow a server by hundreds of MiB (multipart uploads of many
fields, JSON of tiny containers, anonymous requests with long queries to unknown paths),
sent to a launched server whose journals may keep 4 MiB together. Its resident memory
may grow by the cap plus what serving itself holds on to, not by what was sent."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from impl.launcher import Launched

CAP_MIB = 4
# what uvicorn, Connexion and the allocator keep after serving uploads of 10 MiB
SERVING_SLACK_MIB = 48


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def send_hostile_shapes(url: str, rounds: int) -> None:
    """`rounds` of each shape; unbounded, ten rounds grew the journal by about 300 MiB."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        made = (await client.post("/api/dev/users", json={"name": "a"})).json()["data"]
        other = (await client.post("/api/dev/users", json={"name": "b"})).json()["data"]
        auth = {"Authorization": f"Bearer {made['token']}"}
        chat = await client.post(
            "/api/chat", json={"participantIds": [other["user"]["_id"]]}, headers=auth
        )
        chat_id = chat.json()["data"]["chat"]["_id"]
        fields = {f"field{n}": "f" * 16_000 for n in range(600)}  # 9.6 MB of fields
        for _ in range(rounds):
            await client.post(
                f"/api/chat/{chat_id}/messages/file",
                data=fields,
                files={"file": ("a.txt", b"hello", "text/plain")},
                headers=auth,
            )
        tiny = ("[" + ",".join(["{}"] * 5400) + "]").encode()
        json_headers = {**auth, "Content-Type": "application/json"}
        for _ in range(rounds * 20):
            await client.post("/api/chat", content=tiny, headers=json_headers)
        query = "&".join(f"key{n}=v" for n in range(4600))
        for n in range(rounds * 30):
            await client.get(f"/api/unknown/{n}?{query}")
        listed = await client.get("/api/dev/requests", params={"limit": 1000})
        assert listed.status_code == 200
        assert len(listed.content) < 3 * CAP_MIB * 1024 * 1024


def test_rss_grows_within_the_journal_cap() -> None:
    settings = {"CHAT_JOURNAL_MAX_BYTES": str(CAP_MIB * 1024 * 1024)}
    with Launched(settings=settings) as server:
        asyncio.run(send_hostile_shapes(server.url, 1))  # what serving keeps anyway
        before = rss_mib(server.pid)
        asyncio.run(send_hostile_shapes(server.url, 10))
        after = rss_mib(server.pid)
    assert after - before < CAP_MIB + SERVING_SLACK_MIB, (before, after)
