"""Write the README's settings table from the table in `impl/settings.py`.

    python tools/settings_table.py           rewrite README.md between its markers
    python tools/settings_table.py --check   exit 1 if README.md is not what it would write

`tests/test_settings.py` runs the check, so a setting added, renamed or re-described in
`impl/settings.py` fails the tests until the README says the same.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere: the checkout's package
    sys.path.insert(0, str(ROOT))

from impl.settings import markdown_table  # noqa: E402 - found through the line above

README = ROOT / "README.md"
BEGIN = "<!-- settings table: begin -->"
END = "<!-- settings table: end -->"


def with_table(readme: str) -> str:
    """The README text with the generated table between its markers."""
    head, begin, rest = readme.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"README.md lacks the markers {BEGIN!r} and {END!r}")
    return f"{head}{BEGIN}\n{markdown_table()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report a stale table")
    args = parser.parse_args(argv)
    current = README.read_text(encoding="utf-8")
    wanted = with_table(current)
    if args.check:
        if current != wanted:
            print("README.md's settings table is stale: run python tools/settings_table.py")
            return 1
        return 0
    README.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
