"""Install the AsyncAPI renderer where the docs app serves it from.

`python -m impl serve` renders asyncapi.yaml at /docs/asyncapi/ with the standalone
bundle of @asyncapi/react-component. The bundle is third-party code installed by npm, so
it is never committed: this step copies it from node_modules/ into build/docs/asyncapi/
(git-ignored), together with its licence and a small manifest naming the version.

Usage: npm ci && python tools/build_docs.py [--out build/docs]
Exit codes: 0 installed; 1 node_modules lacks the package (run `npm ci` first).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "node_modules" / "@asyncapi" / "react-component"

# (source inside the package, name under build/docs/asyncapi/): the names impl.docs serves.
FILES = (
    ("browser/standalone/index.js", "index.js"),
    ("styles/default.min.css", "default.min.css"),
    ("LICENSE", "LICENSE.txt"),
    ("browser/standalone/index.js.LICENSE.txt", "index.js.LICENSE.txt"),
)


def package_version(package: Path) -> str:
    """The version npm installed, from the package's own package.json."""
    manifest = json.loads((package / "package.json").read_text(encoding="utf-8"))
    return str(manifest["version"])


def build(out: Path, package: Path = PACKAGE) -> Path:
    """Copy the renderer into `out`/asyncapi and return that folder."""
    missing = [src for src, _ in FILES if not (package / src).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{package} lacks {', '.join(missing)}: run `npm ci` in {ROOT} first"
        )
    target = out / "asyncapi"
    target.mkdir(parents=True, exist_ok=True)
    for src, name in FILES:
        shutil.copyfile(package / src, target / name)
    manifest = {"package": "@asyncapi/react-component", "version": package_version(package)}
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "docs")
    args = parser.parse_args(argv)
    try:
        target = build(args.out)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    version = package_version(PACKAGE)
    print(f"AsyncAPI renderer {version} installed in {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
