"""The spec fuzzes the implementation: every operation of openapi.yaml, in process, with
every built-in Schemathesis check plus the contract's envelope checks (`fuzzkit`).

Each generated request carries the token of a user who created (and so belongs to) the
chat that every `{id}` is pinned to; `{messageId}`, `{participantId}` and `{fileId}` are
pinned to real ones of that chat, so cases reach the rules behind "not found". Bodies draw
user and message ids from the seeded world half of the time. The statuses that
`positive_data_acceptance` accepts per operation, and the two dev operations left out,
are in `schemathesis.toml`, each with its reason.
"""

from __future__ import annotations

import schemathesis
from fuzzkit import BUDGET, build_world, fuzz_settings, load_schema

# Built when the module is imported: `schemathesis.pytest.from_fixture` would build it in
# a fixture instead, but schemathesis 4.32.5's lazy loader reads `Node._nodeid`, which
# pytest 9.2 no longer has (AttributeError), so the schema is loaded eagerly.
#
# The message rate limit is lifted here: every case is sent by one user, and at 20 per
# minute the send operations would answer 429 to nearly every case after the first few,
# hiding the content rules behind it. test_properties.py fuzzes the limiter itself.
WORLD = build_world(fuzz_settings(rate_limit=1_000_000))
schema = load_schema(WORLD, max_examples=BUDGET.operation_examples)


@schema.parametrize()
def test_every_operation_conforms(case: schemathesis.Case) -> None:
    case.call_and_validate()
