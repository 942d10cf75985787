"""The container test's measurements, printed at the end of the run: how long the build
took, how big the image is, how soon it answered and how soon it stopped."""

from __future__ import annotations

import pytest

MEASURED = pytest.StashKey[dict[str, str]]()


@pytest.fixture(scope="session")
def measurements(pytestconfig: pytest.Config) -> dict[str, str]:
    return pytestconfig.stash.setdefault(MEASURED, {})


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    measured = terminalreporter.config.stash.get(MEASURED, {})
    if measured:
        terminalreporter.section("container measurements")
        for name, value in measured.items():
            terminalreporter.write_line(f"{name}: {value}")
