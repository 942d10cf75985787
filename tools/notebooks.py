"""Execute the walkthrough notebooks and keep their outputs reproducible.

    python tools/notebooks.py run   [NOTEBOOK ...]   execute in place (to commit outputs)
    python tools/notebooks.py check [NOTEBOOK ...]   execute copies; fail if any output
                                                     differs from the committed file

Without NOTEBOOK every `notebooks/*.ipynb` is taken. Each notebook runs in a fresh
kernel with the notebook's folder as working directory, as `pytest --nbmake` runs it.
What changes on every run without saying anything is left out of the saved file: the
per-cell execution timestamps and the kernel's Python patch version.
"""

from __future__ import annotations

import argparse
import difflib
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def execute(path: Path, timeout: int = 300) -> nbformat.NotebookNode:
    """Run the notebook in a fresh kernel. When a cell raises, the partly executed copy
    is saved next to the system's temporary files for a look, never over the original."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute()
    except CellExecutionError:
        failed = Path(tempfile.gettempdir()) / f"{path.stem}.failed.ipynb"
        failed.write_text(dumps(normalise(nb)), encoding="utf-8")
        print(f"the partly executed notebook is in {failed}", file=sys.stderr)
        raise
    return normalise(nb)


def normalise(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb.metadata.pop("widgets", None)
    nb.metadata.get("language_info", {}).pop("version", None)
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = coalesce_streams(cell.outputs)
    return nb


def coalesce_streams(outputs: list[nbformat.NotebookNode]) -> list[nbformat.NotebookNode]:
    """Join consecutive stdout (or stderr) chunks: how a kernel splits a cell's printing
    into messages depends on timing, the text does not."""
    merged: list[nbformat.NotebookNode] = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (
            output.output_type == "stream"
            and previous is not None
            and previous.output_type == "stream"
            and previous.name == output.name
        ):
            previous.text += output.text
        else:
            merged.append(output)
    return merged


def dumps(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["run", "check"])
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    failed = 0
    for path in paths:
        started = time.monotonic()
        try:
            nb = execute(path)
        except CellExecutionError as exc:
            print(f"FAIL {path}: a cell raised\n{exc}", file=sys.stderr)
            failed += 1
            continue
        took = time.monotonic() - started
        fresh = dumps(nb)
        if args.command == "run":
            path.write_text(fresh, encoding="utf-8")
            print(f"ran  {path} ({took:.1f} s)")
            continue
        committed = path.read_text(encoding="utf-8")
        if committed == fresh:
            print(f"same {path} ({took:.1f} s)")
            continue
        failed += 1
        print(f"DIFF {path}: outputs differ from the committed file", file=sys.stderr)
        diff = difflib.unified_diff(
            committed.splitlines(), fresh.splitlines(), "committed", "fresh", lineterm="", n=1
        )
        sys.stderr.writelines(line + "\n" for line in list(diff)[:80])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
