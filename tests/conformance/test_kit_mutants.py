"""The kit catches every mutant (tests/conformance/mutants.py): run against a server with
one behaviour broken, it fails the rule meant to catch it, and no rule that does not see
that breakage.

Each mutant is served in process (tests/inprocess.py) and the kit runs in the same event
loop, as a CI job would run it against a staging server."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.runner import FAILED, NOT_RUN, Options, run
from inprocess import served
from mutants import MUTANTS, Mutant


def failures_of(outcomes: list) -> dict[str, str]:  # type: ignore[type-arg]
    return {o.rule.id: o.message for o in outcomes if o.status == FAILED}


@pytest.mark.parametrize("mutant", MUTANTS.values(), ids=list(MUTANTS))
async def test_the_kit_catches_the_mutant(mutant: Mutant) -> None:
    app = mutant.build()
    try:
        async with served(app) as server:
            result = await run(Options(server.url))
    finally:
        app.close()
    failed = failures_of(result.outcomes)
    assert mutant.caught_by in failed, (
        f"{mutant.name} ({mutant.breaks}) got past {mutant.caught_by}"
    )
    unexpected = set(failed) - {mutant.caught_by} - mutant.also
    assert not unexpected, "\n\n".join(f"{r}: {failed[r]}" for r in unexpected)
    assert not any(o.kit_error for o in result.outcomes), failed
    assert not [o.rule.id for o in result.outcomes if o.status == NOT_RUN]


def test_the_guide_counts_the_mutants() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "conformance.md").read_text(
        encoding="utf-8"
    )
    assert f"{len(MUTANTS)} mutants" in guide
