"""Fixtures of the Socket.IO tests (they override tests/conftest.py's of the same name):

    module_world          one world per test module: an app and the seams it was built with
    world / app / settings   that world, emptied and its clock reset for each test
    live / sockets        the `app` served by a real server, and a `Sockets` for it

Building an app costs about 0.3 s (Connexion reads the whole spec), so a module of many
short socket tests shares one, the way a client would use `POST /api/dev/reset`; each
test still gets its own server in its own event loop. A module that needs other seams (a
listener on every emitted event, a failing presence) overrides `module_world`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from impl.app import ChatApp
from impl.settings import Settings
from sockets.support import Sockets, World, build_world, serving


@pytest.fixture(scope="module")
def module_world() -> World:
    return build_world()


@pytest.fixture
def world(module_world: World) -> World:
    """The module's world, reset."""
    module_world.reset()
    return module_world


@pytest.fixture
def app(world: World) -> ChatApp:
    return world.app


@pytest.fixture
def settings(app: ChatApp) -> Settings:
    return app.services.settings


@pytest.fixture
async def live(app: ChatApp) -> AsyncIterator[str]:
    """The `app` fixture served by a real uvicorn; its base URL."""
    async with serving(app) as url:
        yield url


@pytest.fixture
async def sockets(live: str) -> AsyncIterator[Sockets]:
    opened = Sockets(live)
    yield opened
    await opened.close_all()
