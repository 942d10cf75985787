"""The differential state machine catches a broken engine: proof that it looks where
the engine can go wrong.

Each mutant is a copy of `impl/store/engine.py` with one deliberate bug, loaded as its
own module (the real engine is untouched). The differential machine runs against it
with the CI budget, derandomized so that the run is the same every time, without
shrinking, and must report a difference. A mutant whose text no longer occurs in the
engine fails loudly, so the list cannot rot silently.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test
from test_embedded_engine_differential import EXAMPLES, STEPS, Differential

import impl.store.engine

# name -> (text in engine.py, what replaces it)
MUTANTS: dict[str, tuple[str, str]] = {
    # the paged early exit stops one match short (find(...).sort(index).limit(2) gives 1)
    "walk stops one document early": (
        """                    out.append(doc)
                    if need is not None and len(out) >= need:
                        break
            return out""",
        """                    out.append(doc)
                    if need is not None and len(out) >= need - 1:
                        break
            return out""",
    ),
    # a failing update leaves its half-applied documents under their old index keys
    "no re-index after a failed update": (
        """            try:
                return super()._update(*args, **kwargs)
            finally:
                for key in store._touched.pop():
                    store._reindex(key)""",
        """            try:
                result = super()._update(*args, **kwargs)
            except BaseException:
                store._touched.pop()
                raise
            for key in store._touched.pop():
                store._reindex(key)
            return result""",
    ),
    # walks although the index holds documents it cannot order (NaN, a document)
    "walk ignores unorderable documents": (
        "if len(buckets) > 1 or self.unorderable:",
        "if len(buckets) > 1:",
    ),
    # walks and leaves out the documents it cannot order
    "walk skips unorderable documents": (
        """        if len(buckets) > 1 or self.unorderable:
            return None
        if not buckets:
            return iter(())
        if forward:
            return (seq for _, seq in buckets[0])
        return _reverse_stable(buckets[0])""",
        """        if len(buckets) > 1:
            return None
        if not buckets:
            return iter(())
        orderable = [entry for entry in buckets[0] if entry[0] != ()]
        if forward:
            return (seq for _, seq in orderable)
        return _reverse_stable(orderable)""",
    ),
    # an ObjectId query no longer looks in its hex string's bucket (arrays match both)
    "no hex-string bucket": (
        "return [condition, str(condition)]",
        "return [condition]",
    ),
    # expired documents are never swept
    "no TTL sweep": (
        "                super()._remove_expired_documents()",
        "                pass",
    ),
    # bools ranked below strings in index keys (mongomock ranks them 40, above ObjectIds)
    "bool type rank changed": (
        "return (flag, 40, int(value))",
        "return (flag, 12, int(value))",
    ),
}

SOURCE = Path(impl.store.engine.__file__).read_text(encoding="utf-8")


def load_engine(source: str, label: str) -> types.ModuleType:
    """`source` as a module of its own, beside the real engine."""
    module = types.ModuleType(f"impl.store._engine_copy_{len(sys.modules)}")
    module.__file__ = impl.store.engine.__file__
    sys.modules[module.__name__] = module  # dataclasses look their module up
    try:
        exec(compile(source, f"<engine copy: {label}>", "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    return module


def mutant_engine(name: str) -> types.ModuleType:
    original, replacement = MUTANTS[name]
    assert SOURCE.count(original) == 1, f"mutant {name!r}: its text is not in engine.py once"
    return load_engine(SOURCE.replace(original, replacement), name)


def run_against(engine: types.ModuleType, examples: int) -> None:
    class Machine(Differential):
        pass

    Machine.engine = engine
    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.generate],  # the first difference is proof enough: no shrinking
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        ),
    )


@pytest.mark.parametrize("name", MUTANTS)
def test_differential_catches_mutant(name: str) -> None:
    with pytest.raises(AssertionError):
        run_against(mutant_engine(name), EXAMPLES)


def test_unmutated_copy_passes() -> None:
    """The control: loading a copy changes nothing, so each failure above is its mutant's."""
    run_against(load_engine(SOURCE, "unmutated"), 10)
