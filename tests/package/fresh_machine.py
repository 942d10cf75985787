"""A machine that never saw the project, made out of this one: a mount namespace.

`isolated(command)` wraps a command so that it runs in a new mount namespace (`unshare
--mount`, which needs root) where everything an earlier install, a cache or a global
configuration could lend a build is hidden behind an empty folder (or `/dev/null` for a
file): Jupyter's data folders, pip's, npm's and uv's caches and configuration, the home
folder's dot-folders. `clean_env(home)` is the environment of a new user of this
machine: a fresh home, the interpreter's own `bin/` on PATH, and only what reaching the
network needs (certificate bundles and proxies), no `PIP_*`, `UV_*` or `PYTHON*`
variable. With `offline=True` the namespace has no network either (`unshare --net`, only
a loopback interface brought up for the server).

`fresh_clone(dest)` is the working tree as a clone holds it (tracked files and new ones
that are not ignored, so uncommitted work is tested too), committed into a repository of
its own that `git+file://` can install from; nothing git ignores (`build/`, `.tox/`)
comes along.

`check_unshare()` says in one line why namespaces cannot be made here; the tests then
fail unless `FRESH_MACHINE_TEST=off` says to skip them (never silently).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OPT_OUT = "FRESH_MACHINE_TEST"
REAL_HOME = Path.home()
# what a build could read that a fresh machine does not have
HIDDEN = (
    Path("/usr/local/share/jupyter"),
    Path("/usr/share/jupyter"),
    Path(sys.base_prefix) / "share" / "jupyter",
    Path("/etc/jupyter"),
    Path("/usr/local/etc/jupyter"),
    Path("/etc/pip.conf"),
    Path("/etc/xdg/pip"),
    Path("/etc/npmrc"),
    Path("/usr/local/etc/npmrc"),
    Path("/etc/uv"),
    *(
        REAL_HOME / name
        for name in (
            ".local",
            ".cache",
            ".npm",
            ".npmrc",
            ".config",
            ".pip",
            ".jupyter",
            ".ipython",
            ".node-gyp",
        )
    ),
)
# variables a fresh machine may need to reach the network (and nothing else)
NETWORK_VARS = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)
SYSTEM_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def base_python() -> Path:
    """The interpreter a new user would have: this one's base installation, not a venv's
    and not a version manager's shim (shims read the home folder)."""
    real = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}"
    return real if real.exists() else Path(sys.executable).resolve()


def _git(*args: str, cwd: Path) -> bytes:
    git = shutil.which("git")
    if git is None:
        raise RuntimeError("git is needed to know which files a clone holds")
    identity = ["-c", "user.name=fresh", "-c", "user.email=fresh@example.invalid"]
    done = subprocess.run([git, *identity, *args], cwd=cwd, capture_output=True, check=True)
    return done.stdout


def fresh_clone(dest: Path) -> Path:
    """The working tree's files in `dest`, committed as a repository of their own."""
    listed = _git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT)
    for name in filter(None, listed.decode().split("\0")):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    _git("init", "-q", cwd=dest)
    _git("add", "-A", cwd=dest)
    _git("commit", "-q", "-m", "the working tree under test", cwd=dest)
    return dest


def check_unshare() -> str | None:
    """None when mount namespaces can be made here; else why not, in one line."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return "`unshare` (util-linux) is not installed"
    done = subprocess.run(
        [unshare, "--mount", "--net", "true"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        why = done.stderr.strip() or f"exit status {done.returncode}"
        return f"`unshare --mount --net` is not permitted here ({why}; it needs root)"
    return None


def clean_env(home: Path, path_first: Sequence[Path] = ()) -> dict[str, str]:
    """The environment of a new user whose home is `home`; `path_first` leads PATH."""
    home.mkdir(parents=True, exist_ok=True)
    path = [*map(str, path_first), str(base_python().parent), *SYSTEM_PATH]
    env = {"HOME": str(home), "PATH": os.pathsep.join(path), "LANG": "C.UTF-8"}
    env.update({name: os.environ[name] for name in NETWORK_VARS if os.environ.get(name)})
    return env


def hiding_script(empty: Path) -> str:
    """Shell lines that cover every hidden path that exists with an empty one."""
    lines = ["set -e"]
    for path in HIDDEN:
        quoted = shlex.quote(str(path))
        lines.append(
            f"if [ -d {quoted} ]; then mount --bind {shlex.quote(str(empty))} {quoted}; "
            f"elif [ -e {quoted} ]; then mount --bind /dev/null {quoted}; fi"
        )
    return "\n".join(lines)


def isolated(shell_line: str, empty: Path, *, offline: bool = False) -> list[str]:
    """argv running `shell_line` under bash in a fresh mount namespace (and, `offline`,
    a network namespace with only loopback) with the warm state hidden."""
    empty.mkdir(parents=True, exist_ok=True)
    script = hiding_script(empty)
    if offline:
        script += "\nip link set lo up"
    script += "\nset +e\n" + shell_line
    namespaces = ["--mount", "--net"] if offline else ["--mount"]
    return ["unshare", *namespaces, "--", "bash", "-c", script]
